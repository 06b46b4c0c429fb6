#!/usr/bin/env bash
# Leak scan throughput: `keywarden scan` beside ripgrep searching the same files for the key
# format's regular expression, over a generated corpus with keys and look-alikes in it.
#
#   benches/scan.sh                      # 1 GiB in 64 files, 3 interleaved rounds (about 2 min
#                                        # after the release build)
#   SIZE_MIB=256 RUNS=1 benches/scan.sh  # a quicker look
#
# What it does:
# 1. installs ripgrep from Debian (apt-get) if `rg` is missing;
# 2. builds `keywarden` and the corpus generator (crates/keywarden-core/examples/scan_corpus.rs)
#    in release mode;
# 3. writes SIZE_MIB of generated code, configuration and log lines in FILES files under
#    CORPUS (a scratch folder, deleted at the end unless KEEP=1): a real key per 64 KiB on
#    average and as many look-alikes of each of five sorts (a character changed or two swapped,
#    so the checksum fails: the regular expression matches these; cut short, `sk_prod_`, a `-`
#    inside: it does not). The generator prints how many of each it planted;
# 4. reads the corpus once so that every run reads it from the page cache (this measures the
#    scanners, not the disk);
# 5. RUNS interleaved rounds of: `keywarden scan CORPUS` (one thread: it has no other mode),
#    `rg -j1` (ripgrep on one thread) and `rg` (its default threads), each printing every match
#    with its line and column (`rg -n --column -o`), as `keywarden scan` does;
# 6. checks the counts (keywarden: exactly the keys planted, so no false positive and no miss;
#    ripgrep: the keys plus the look-alikes the expression matches) and prints MB/s (10^6
#    bytes per second of wall time) and CPU seconds of each run, then the medians.
#
# Knobs (environment): SIZE_MIB=1024 FILES=64 RUNS=3 CORPUS=<scratch> KEEP=0.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

SIZE_MIB=${SIZE_MIB:-1024}
FILES=${FILES:-64}
RUNS=${RUNS:-3}
KEEP=${KEEP:-0}
# The key format of SPEC §2 as a regular expression (what GitHub's secret scanning and any
# grep would use). It has no checksum: it matches look-alikes too.
REGEX='[sr]k_(test|live)_[0-9A-Za-z]{38}'

if ! command -v rg >/dev/null; then
    echo "installing ripgrep from Debian" >&2
    if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq ripgrep >/dev/null
fi

cargo build --release --quiet -p keywarden-cli --bin keywarden
cargo build --release --quiet -p keywarden-core --example scan_corpus
target=${CARGO_TARGET_DIR:-$repo/target}/release
BIN=$target/keywarden

if [ -z "${CORPUS:-}" ]; then
    CORPUS=$(mktemp -d "${TMPDIR:-/tmp}/keywarden-scan-corpus.XXXXXX")
fi
out=$(mktemp -d "${TMPDIR:-/tmp}/keywarden-scan-out.XXXXXX")
cleanup() {
    rm -rf "$out"
    if [ "$KEEP" != 1 ]; then rm -rf "$CORPUS"; fi
}
trap cleanup EXIT

echo "== corpus: $SIZE_MIB MiB in $FILES files under $CORPUS"
planted=$("$target/examples/scan_corpus" "$CORPUS" "$SIZE_MIB" "$FILES")
echo "$planted"
field() { sed -E "s/.*\"$1\": ([0-9]+).*/\1/" <<<"$planted"; }
bytes=$(field bytes)
keys=$(field keys)
regex_look_alikes=$(field regex_look_alikes)
other_look_alikes=$(field other_look_alikes)
cat "$CORPUS"/*/* >/dev/null

echo "== versions"
"$BIN" --version
rg --version | head -1
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); cores: $(nproc)"

# run NAME EXPECTED_MATCHES EXPECTED_STATUS COMMAND...: times one run, checks its count.
results=()
run() {
    local name=$1 expected=$2 expected_status=$3
    shift 3
    local timing status=0
    TIMEFORMAT='%R %U %S'
    { timing=$( { time "$@" >"$out/$name.txt" 2>"$out/$name.err"; } 2>&1 ); } || status=$?
    if [ "$status" != "$expected_status" ]; then
        echo "$name exited with $status (expected $expected_status):" >&2
        cat "$out/$name.err" >&2
        exit 1
    fi
    local found
    found=$(wc -l <"$out/$name.txt")
    if [ "$found" != "$expected" ]; then
        echo "$name found $found, expected exactly $expected" >&2
        exit 1
    fi
    read -r wall user sys <<<"$timing"
    local mbs cpu
    mbs=$(awk -v b="$bytes" -v s="$wall" 'BEGIN { printf "%.0f", b / s / 1e6 }')
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
    printf '%-14s %8s MB/s  wall %6.2f s  cpu %6s s  matches %s\n' "$name" "$mbs" "$wall" "$cpu" "$found"
    results+=("$name $mbs")
}

set +e
for round in $(seq 1 "$RUNS"); do
    echo "== round $round"
    # keywarden scan exits 1 when it finds keys: that is the expected status here.
    run keywarden "$keys" 1 "$BIN" scan "$CORPUS"
    run rg-j1 "$((keys + regex_look_alikes))" 0 \
        rg --no-config -uu -a -j1 -n --column -o -e "$REGEX" "$CORPUS"
    run rg "$((keys + regex_look_alikes))" 0 \
        rg --no-config -uu -a -n --column -o -e "$REGEX" "$CORPUS"
done
set -e

echo "== medians over $RUNS rounds ($bytes bytes; $keys keys, $regex_look_alikes look-alikes the expression matches, $other_look_alikes it does not)"
for name in keywarden rg-j1 rg; do
    printf '%s\n' "${results[@]}" | awk -v n="$name" '$1 == n { print $2 }' | sort -n |
        awk -v n="$name" '{ v[NR] = $1 } END { printf "%-14s %8s MB/s (median of %d)\n", n, v[int((NR + 1) / 2)], NR }'
done
echo "keywarden scan: $keys findings = $keys keys planted (0 false positives); ripgrep's expression: $((keys + regex_look_alikes)) matches, $regex_look_alikes of them look-alikes with a wrong checksum"
