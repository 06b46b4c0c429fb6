#!/usr/bin/env bash
# Load test of the verify path, side by side with the bare HTTP ceiling and the DRF peer.
#
#   benches/load.sh                  # every load figure of docs/BENCHMARKS.md (about 12 min,
#                                    # plus a few minutes of seeding and set-up the first time)
#   LOAD_SMOKE=1 benches/load.sh     # CI smoke: 1e3 keys, 3 s runs, no peer, no oha; fails
#                                    # unless forward-auth answers 200 for the valid key and
#                                    # 401 for the malformed, unknown and revoked ones
#
# What it does, all on 127.0.0.1 and bounded in time (every load run has a duration and a
# `timeout`; servers are stopped on exit):
# 1. builds `keywarden` and the examples `seed_keys` and `bare_ceiling` in release mode (or in
#    the cargo profile PROFILE names);
# 2. seeds a SQLite database (production durability: WAL, synchronous = FULL) with KEYS keys
#    through `examples/seed_keys.rs` (batches of 10,000 through the Store trait), which also
#    writes the sample keys: valid (a standard live key), revoked, unknown, malformed;
# 3. starts `keywarden serve` on it, the bare axum ceiling (`examples/bare_ceiling.rs`) and,
#    unless PEER=0, the DRF peer from shared/peers/drf-api-key (copied to a scratch folder,
#    its venv made there) with the same number of keys;
# 4. RUNS interleaved rounds of `wrk -t2 -cCONNS -dDURATION` on forward-auth: ceiling, the
#    ceiling behind the API's layers (`bare_ceiling --layers`), the ceiling behind the layers
#    that answers as Keywarden does for a valid key (`--layers --answer`: the three identity
#    headers, verify's JSON body, as constants), Keywarden (valid key), peer (valid key); then
#    one round of every other case (malformed, unknown, revoked; POST /v1/verify/ with each key
#    and both ceilings; the peer's unknown key); keys with a policy (4b); usage counting on and
#    off, two instances on one database (4c);
# 5. oha open loop at each of RATES req/s (-cCONNS, latency corrected), ceiling and Keywarden
#    interleaved, RUNS times, if `oha` is installed;
# 6. start-up time and resident memory of `keywarden serve` with 3 keys and MEMORY_KEYS keys;
# 7. the medians of the interleaved rounds and Keywarden's ratios to the ceilings and the peer.
#
# Each line: req/s, p50, p99, p99.9, non-2xx answers, the server's CPU time per request (user +
# system ticks of the server and its children from /proc, over the requests answered) — the
# same method as shared/peers/wrk-case.sh. Raw outputs stay in RESULTS.
#
# Knobs (environment): KEYS=100000 RUNS=3 DURATION=15s CONNS=16 RATES="20000"
# MEMORY_KEYS=1000000 (empty: skip) PEER=1 PEERS_DIR=<repo>/../shared/peers WORK=<scratch>
# RESULTS=<folder> PORT_BASE=18080 FRESH=1 (re-seed even if a seeded database exists).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

SMOKE=${LOAD_SMOKE:-}
if [ -n "$SMOKE" ]; then
    KEYS=${KEYS:-1000}
    DURATION=${DURATION:-3s}
    RUNS=${RUNS:-1}
    PEER=0
    RATES=${RATES:-}
    MEMORY_KEYS=${MEMORY_KEYS:-}
else
    KEYS=${KEYS:-100000}
    DURATION=${DURATION:-15s}
    RUNS=${RUNS:-3}
    PEER=${PEER:-1}
    RATES=${RATES-20000}
    MEMORY_KEYS=${MEMORY_KEYS-1000000}
fi
CONNS=${CONNS:-16}
PROFILE=${PROFILE:-release}
PORT_BASE=${PORT_BASE:-18080}
KW_PORT=$PORT_BASE
CEILING_PORT=$((PORT_BASE + 1))
PEER_PORT=$((PORT_BASE + 2))
LAYERS_PORT=$((PORT_BASE + 3))
ANSWER_PORT=$((PORT_BASE + 4))
PEERS_DIR=${PEERS_DIR:-$repo/../shared/peers}
WORK=${WORK:-${TMPDIR:-/tmp}/keywarden-load}
RESULTS=${RESULTS:-$(mktemp -d "${TMPDIR:-/tmp}/keywarden-load-results.XXXXXX")}
HZ=$(getconf CLK_TCK)
mkdir -p "$WORK" "$RESULTS"
failures=0
fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

for tool in wrk curl; do
    command -v "$tool" >/dev/null || { echo "$tool is needed (apt-get install -y $tool)" >&2; exit 2; }
done
OHA=${OHA:-$(command -v oha || true)}
[ -z "$OHA" ] && [ -n "$RATES" ] && echo "# oha not found: fixed-rate runs skipped (cargo install oha --no-default-features --features native-tls --locked)"

echo "# keywarden load test, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# profile=$PROFILE keys=$KEYS runs=$RUNS duration=$DURATION conns=$CONNS rates='${RATES}' smoke=${SMOKE:-0}; raw output in $RESULTS"

# --- 1. build -------------------------------------------------------------------------------
echo "# building (profile $PROFILE)"
cargo build --profile "$PROFILE" --quiet -p keywarden-cli
cargo build --profile "$PROFILE" --quiet -p keywarden-server --example seed_keys --example bare_ceiling
BIN=$repo/target/$PROFILE
[ -x "$BIN/keywarden" ] || { echo "no $BIN/keywarden" >&2; exit 2; }

# --- helpers ----------------------------------------------------------------------------------
pids=()
cleanup() {
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${pids[@]}"; do
        wait "$p" 2>/dev/null || true
    done
}
trap cleanup EXIT

local_url() {
    case "$1" in
        http://127.0.0.1:*) ;;
        *) echo "refusing to load anything but 127.0.0.1: $1" >&2; exit 2 ;;
    esac
}

# CPU ticks (user + system) of a process and its children (threads are counted in their
# process's figure).
ticks() {
    local total=0 p
    for p in "$1" $(pgrep -P "$1" 2>/dev/null); do
        [ -r "/proc/$p/stat" ] || continue
        total=$((total + $(awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$p/stat")))
    done
    echo "$total"
}

# Peak resident memory (VmHWM, kB) of a process plus its children.
peak_kb() {
    local total=0 p v
    for p in "$1" $(pgrep -P "$1" 2>/dev/null); do
        v=$(awk '/^VmHWM:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
        total=$((total + ${v:-0}))
    done
    echo "$total"
}

rss_kb() {
    awk '/^VmRSS:/ {print $2}' "/proc/$1/status"
}

# wait_up URL SECONDS: poll every 20 ms until URL answers 200.
wait_up() {
    local deadline=$(( $(date +%s) + $2 ))
    while [ "$(date +%s)" -le "$deadline" ]; do
        if [ "$(curl -s -o /dev/null -w '%{http_code}' "$1" 2>/dev/null)" = 200 ]; then return 0; fi
        sleep 0.02
    done
    echo "server did not come up: $1" >&2
    return 1
}

# status METHOD URL AUTH [BODY]: the HTTP status of one request.
status_of() {
    local method=$1 url=$2 auth=$3 body=${4:-}
    local args=(-s -o /dev/null -w '%{http_code}' -X "$method" -H "Authorization: $auth")
    if [ -n "$body" ]; then
        args+=(-H 'Content-Type: application/json' --data "$body")
    fi
    curl "${args[@]}" "$url"
}

# A wrk script: a static request (no per-request Lua) and a done() that prints p99.9.
wrk_script() {
    local file=$1 method=$2 body=${3:-}
    {
        echo "wrk.method = \"$method\""
        if [ -n "$body" ]; then
            echo "wrk.body = '$body'"
            echo 'wrk.headers["Content-Type"] = "application/json"'
        fi
        echo 'done = function(summary, latency, requests)'
        echo '  io.write(string.format("p99.9 %.0f\n", latency:percentile(99.9)))'
        echo 'end'
    } > "$file"
}

case_header() {
    printf '%-44s %10s %9s %9s %9s %9s %12s\n' case req/s p50 p99 p99.9 non-2xx server-us/req
}

us() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.0fus", v }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.0fus", v * 1000 }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.0fus", v * 1e6 }
        else print v }'
}

# wrk_run LABEL PID URL AUTH METHOD [BODY]: one bounded wrk run; one line on stdout, raw in
# RESULTS/LABEL.txt; the line is also appended to RESULTS/summary.txt.
wrk_run() {
    local label=$1 pid=$2 url=$3 auth=$4 method=$5 body=${6:-}
    local_url "$url"
    local out="$RESULTS/$label.txt" script="$RESULTS/$label.lua"
    wrk_script "$script" "$method" "$body"
    local args=(-t2 -c"$CONNS" -d"$DURATION" --timeout 10s --latency -s "$script")
    [ -n "$auth" ] && args+=(-H "Authorization: $auth")
    local t0 t1
    t0=$(ticks "$pid")
    timeout 120 wrk "${args[@]}" "$url" > "$out" 2>&1 || true
    t1=$(ticks "$pid")
    local rps p50 p99 p999 non2xx requests cpu
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
    p50=$(us "$(awk '$1 == "50%" {print $2}' "$out")")
    p99=$(us "$(awk '$1 == "99%" {print $2}' "$out")")
    p999=$(awk '$1 == "p99.9" {printf "%dus", $2}' "$out")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")
    requests=$(awk '/requests in/ {print $1}' "$out")
    cpu=$(awk -v d=$((t1 - t0)) -v hz="$HZ" -v n="${requests:-0}" \
        'BEGIN { if (n > 0) printf "%.1f", d * 1e6 / hz / n; else print "-" }')
    echo "server CPU: $((t1 - t0)) ticks at $HZ/s for $requests requests" >> "$out"
    printf '%-44s %10s %9s %9s %9s %9s %12s\n' "$label" "${rps:--}" "${p50:--}" "${p99:--}" \
        "${p999:--}" "${non2xx:-0}" "$cpu" | tee -a "$RESULTS/summary.txt"
    if [ -z "$rps" ]; then fail "$label: wrk gave no result (see $out)"; fi
    LAST_NON2XX=${non2xx:-0}
    LAST_REQUESTS=${requests:-0}
}

# oha_run LABEL PID URL AUTH RATE: open loop at RATE req/s, latency corrected.
oha_run() {
    local label=$1 pid=$2 url=$3 auth=$4 rate=$5
    local_url "$url"
    local out="$RESULTS/$label.json"
    local t0 t1
    t0=$(ticks "$pid")
    timeout 120 "$OHA" --no-tui --output-format json -z "$DURATION" -c "$CONNS" -q "$rate" \
        --latency-correction -H "Authorization: $auth" "$url" > "$out" 2>/dev/null || true
    t1=$(ticks "$pid")
    python3 - "$out" "$label" $((t1 - t0)) "$HZ" <<'PY' | tee -a "$RESULTS/summary.txt"
import json, sys
path, label, ticks, hz = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
try:
    r = json.load(open(path))
except Exception as e:
    print(f"{label:<44} oha gave no result ({e})")
    sys.exit(0)
p = r["latencyPercentiles"]
codes = r.get("statusCodeDistribution", {})
n = sum(codes.values())
us = lambda s: f"{s * 1e6:.0f}us" if s is not None else "-"
cpu = f"{ticks * 1e6 / hz / n:.1f}" if n else "-"
print(f'{label:<44} {r["summary"]["requestsPerSec"]:10.1f} {us(p["p50"]):>9} {us(p["p99"]):>9} '
      f'{us(p["p99.9"]):>9} {n - codes.get("200", 0):>9} {cpu:>12}')
PY
}

# --- 2. seed ----------------------------------------------------------------------------------
# seed N: a data folder with a seeded database, its secret and the sample keys (kept between
# runs: seeding is skipped when the folder already holds N keys, unless FRESH=1).
seed() {
    local n=$1 dir="$WORK/keys-$1"
    if [ -n "${FRESH:-}" ] || [ "$(cat "$dir/.seeded" 2>/dev/null)" != "$n" ] ||
        [ ! -f "$dir/keys/rate_limit.txt" ]; then
        rm -rf "$dir"
        mkdir -p "$dir"
        echo "# seeding $n keys into $dir" >&2
        KEYWARDEN_DATA_DIR="$dir" KEYWARDEN_LOG_LEVEL=warn \
            timeout 900 "$BIN/examples/seed_keys" "sqlite://$dir/keywarden.db" "$n" "$dir/keys" >&2
        echo "$n" > "$dir/.seeded"
    fi
    echo "$dir"
}

# A configuration that lifts the failed-presentation limit (60 per client per minute), so the
# refused-key runs measure the 401 path rather than the 429 one; the limiter still runs.
CONFIG="$WORK/load.toml"
cat > "$CONFIG" <<'TOML'
log_level = "warn"

[limits]
failed_keys_per_minute = 4000000000
TOML

# start_keywarden DIR PORT [CONFIG]: starts the server on DIR's database; sets KW_PID and
# STARTUP_MS.
start_keywarden() {
    local dir=$1 port=$2 config=${3:-$CONFIG} t0 t1
    t0=$(date +%s%N)
    KEYWARDEN_DATA_DIR="$dir" "$BIN/keywarden" --config "$config" serve \
        --listen "127.0.0.1:$port" > "$RESULTS/keywarden-$port.log" 2>&1 &
    KW_PID=$!
    pids+=("$KW_PID")
    wait_up "http://127.0.0.1:$port/healthz" 120
    t1=$(date +%s%N)
    STARTUP_MS=$(( (t1 - t0) / 1000000 ))
}

stop_pid() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

DATA=$(seed "$KEYS")
VALID=$(cat "$DATA/keys/valid.txt")
REVOKED=$(cat "$DATA/keys/revoked.txt")
UNKNOWN=$(cat "$DATA/keys/unknown.txt")
MALFORMED=$(cat "$DATA/keys/malformed.txt")

# --- 3. servers -------------------------------------------------------------------------------
start_keywarden "$DATA" "$KW_PORT"
KW=$KW_PID
echo "# keywarden serve with $KEYS keys: serving after ${STARTUP_MS} ms, RSS $(rss_kb "$KW") kB" | tee -a "$RESULTS/summary.txt"
"$BIN/examples/bare_ceiling" "127.0.0.1:$CEILING_PORT" > "$RESULTS/ceiling.log" 2>&1 &
CEILING=$!
pids+=("$CEILING")
wait_up "http://127.0.0.1:$CEILING_PORT/healthz" 30
# The same bare route behind the layers `keywarden serve` puts in front of every route.
"$BIN/examples/bare_ceiling" "127.0.0.1:$LAYERS_PORT" --layers > "$RESULTS/ceiling-layers.log" 2>&1 &
LAYERS=$!
pids+=("$LAYERS")
wait_up "http://127.0.0.1:$LAYERS_PORT/healthz" 30
# The same, answering as Keywarden answers a valid key: the same bytes on the wire, no check.
"$BIN/examples/bare_ceiling" "127.0.0.1:$ANSWER_PORT" --layers --answer > "$RESULTS/ceiling-answer.log" 2>&1 &
ANSWER=$!
pids+=("$ANSWER")
wait_up "http://127.0.0.1:$ANSWER_PORT/healthz" 30

FA="http://127.0.0.1:$KW_PORT/v1/forward-auth/"
VERIFY="http://127.0.0.1:$KW_PORT/v1/verify/"
CFA="http://127.0.0.1:$CEILING_PORT/v1/forward-auth/"
LFA="http://127.0.0.1:$LAYERS_PORT/v1/forward-auth/"
CVERIFY="http://127.0.0.1:$CEILING_PORT/v1/verify/"
AFA="http://127.0.0.1:$ANSWER_PORT/v1/forward-auth/"
AVERIFY="http://127.0.0.1:$ANSWER_PORT/v1/verify/"

# The answers every case must give (checked before any load, and again after for the refused
# keys: a 429 there would mean the limiter, not the check, was measured).
expect() {
    local label=$1 want=$2 got=$3
    if [ "$got" != "$want" ]; then fail "$label answered $got, expected $want"; fi
}
expect "forward-auth valid" 200 "$(status_of GET "$FA" "Api-Key $VALID")"
expect "forward-auth malformed" 401 "$(status_of GET "$FA" "Api-Key $MALFORMED")"
expect "forward-auth unknown" 401 "$(status_of GET "$FA" "Api-Key $UNKNOWN")"
expect "forward-auth revoked" 401 "$(status_of GET "$FA" "Api-Key $REVOKED")"
for k in VALID MALFORMED UNKNOWN REVOKED; do
    body="{\"key\":\"${!k}\"}"
    answer=$(curl -s -X POST -H 'Content-Type: application/json' --data "$body" "$VERIFY")
    want='"valid":false'
    [ "$k" = VALID ] && want='"valid":true'
    case "$answer" in *"$want"*) ;; *) fail "verify $k answered $answer" ;; esac
done

PEER_PID=
if [ "$PEER" = 1 ]; then
    PEER_SRC="$PEERS_DIR/drf-api-key"
    if [ ! -d "$PEER_SRC" ]; then
        echo "# no peer at $PEER_SRC: peer runs skipped (PEERS_DIR=...)"
        PEER=0
    else
        # The shared folder is read-only: the venv, database and keys live in a copy.
        PEER_DIR="$WORK/drf-api-key"
        if [ ! -x "$PEER_DIR/.venv/bin/gunicorn" ]; then
            rm -rf "$PEER_DIR"
            cp -r "$PEER_SRC" "$PEER_DIR"
            chmod -R u+w "$PEER_DIR"
            python3 -m venv "$PEER_DIR/.venv"
            "$PEER_DIR/.venv/bin/pip" install -q django djangorestframework \
                djangorestframework-api-key gunicorn
        fi
        (
            cd "$PEER_DIR"
            if [ "$(cat keys/.count 2>/dev/null)" != "$KEYS" ]; then
                echo "# seeding the peer with $KEYS keys" >&2
                .venv/bin/python manage.py migrate -v 0
                timeout 900 .venv/bin/python manage.py create_keys "$KEYS" >&2
                echo "$KEYS" > keys/.count
            fi
        )
        (
            cd "$PEER_DIR"
            export PEER_PORT PEER_WORKER_CLASS=${PEER_WORKER_CLASS:-gthread} \
                PEER_WORKERS=${PEER_WORKERS:-2} PEER_THREADS=${PEER_THREADS:-4} \
                PEER_HASHER=${PEER_HASHER:-sha512}
            exec .venv/bin/gunicorn -c gunicorn.conf.py peer.wsgi:application
        ) > "$RESULTS/peer.log" 2>&1 &
        PEER_PID=$!
        pids+=("$PEER_PID")
        PEER_URL="http://127.0.0.1:$PEER_PORT/v1/customers/"
        PEER_VALID=$(cat "$PEER_DIR/keys/valid.txt")
        PEER_UNKNOWN=$(cat "$PEER_DIR/keys/invalid.txt")
        for _ in $(seq 1 300); do
            curl -s -o /dev/null "$PEER_URL" && break
            sleep 0.1
        done
        expect "peer valid" 200 "$(status_of GET "$PEER_URL" "Api-Key $PEER_VALID")"
    fi
fi

# --- 4. wrk -----------------------------------------------------------------------------------
echo
echo "# forward-auth, valid key: $RUNS interleaved rounds (wrk -t2 -c$CONNS -d$DURATION)"
case_header
for run in $(seq 1 "$RUNS"); do
    wrk_run "ceiling-forward-auth-r$run" "$CEILING" "$CFA" "Api-Key $VALID" GET
    wrk_run "ceiling-with-api-layers-r$run" "$LAYERS" "$LFA" "Api-Key $VALID" GET
    wrk_run "ceiling-with-answer-r$run" "$ANSWER" "$AFA" "Api-Key $VALID" GET
    wrk_run "keywarden-forward-auth-valid-r$run" "$KW" "$FA" "Api-Key $VALID" GET
    [ "$LAST_NON2XX" = 0 ] || fail "forward-auth valid: $LAST_NON2XX answers were not 200"
    if [ "$PEER" = 1 ]; then
        wrk_run "peer-valid-r$run" "$PEER_PID" "$PEER_URL" "Api-Key $PEER_VALID" GET
    fi
done

echo
echo "# every other case, one round"
case_header
for k in MALFORMED UNKNOWN REVOKED; do
    name=$(echo "$k" | tr 'A-Z' 'a-z')
    wrk_run "keywarden-forward-auth-$name" "$KW" "$FA" "Api-Key ${!k}" GET
    [ "$LAST_NON2XX" = "$LAST_REQUESTS" ] || fail "forward-auth $name: some answers were 2xx"
    expect "forward-auth $name after load" 401 "$(status_of GET "$FA" "Api-Key ${!k}")"
done
wrk_run "ceiling-verify" "$CEILING" "$CVERIFY" "" POST "{\"key\":\"$VALID\"}"
wrk_run "ceiling-with-answer-verify" "$ANSWER" "$AVERIFY" "" POST "{\"key\":\"$VALID\"}"
for k in VALID MALFORMED UNKNOWN REVOKED; do
    name=$(echo "$k" | tr 'A-Z' 'a-z')
    wrk_run "keywarden-verify-$name" "$KW" "$VERIFY" "" POST "{\"key\":\"${!k}\"}"
    [ "$LAST_NON2XX" = 0 ] || fail "verify $name: $LAST_NON2XX answers were not 200"
done
if [ "$PEER" = 1 ]; then
    wrk_run "peer-unknown" "$PEER_PID" "$PEER_URL" "Api-Key $PEER_UNKNOWN" GET
fi

# --- 4b. keys with a policy (SPEC §9) ------------------------------------------------------------
# The same server: a key whose allowlist of 100 ranges holds the client in its last one, and a
# key with a rate limit it never reaches (the count runs, the refusal never). With Redis
# (REDIS_URL, or KEYWARDEN_TEST_REDIS_URL), a second instance on the same database shares the
# rate limit through it: one round trip per request.
ALLOWLIST=$(cat "$DATA/keys/allowlist.txt")
RATED=$(cat "$DATA/keys/rate_limit.txt")
expect "forward-auth allowlist" 200 "$(status_of GET "$FA" "Api-Key $ALLOWLIST")"
expect "forward-auth rate limit" 200 "$(status_of GET "$FA" "Api-Key $RATED")"
REDIS_URL=${REDIS_URL:-${KEYWARDEN_TEST_REDIS_URL:-}}
SHARED=
if [ -n "$REDIS_URL" ]; then
    SHARED_PORT=$((PORT_BASE + 5))
    # `redis_url` is a top-level key: it must come before the first table.
    { printf 'redis_url = "%s"\n' "$REDIS_URL"; cat "$CONFIG"; } > "$WORK/load-redis.toml"
    start_keywarden "$DATA" "$SHARED_PORT" "$WORK/load-redis.toml"
    SHARED=$KW_PID
    SFA="http://127.0.0.1:$SHARED_PORT/v1/forward-auth/"
    expect "forward-auth rate limit through Redis" 200 "$(status_of GET "$SFA" "Api-Key $RATED")"
    sleep 0.3
else
    echo "# no Redis (REDIS_URL): the shared rate limit is skipped"
fi
echo
echo "# forward-auth, keys with a policy: $RUNS interleaved rounds"
case_header
for run in $(seq 1 "$RUNS"); do
    wrk_run "ceiling-forward-auth-policy-r$run" "$CEILING" "$CFA" "Api-Key $VALID" GET
    wrk_run "keywarden-forward-auth-plain-r$run" "$KW" "$FA" "Api-Key $VALID" GET
    wrk_run "keywarden-forward-auth-allowlist-100-r$run" "$KW" "$FA" "Api-Key $ALLOWLIST" GET
    [ "$LAST_NON2XX" = 0 ] || fail "forward-auth allowlist: $LAST_NON2XX answers were not 200"
    wrk_run "keywarden-forward-auth-rate-local-r$run" "$KW" "$FA" "Api-Key $RATED" GET
    [ "$LAST_NON2XX" = 0 ] || fail "forward-auth rate limit: $LAST_NON2XX answers were not 200"
    if [ -n "$SHARED" ]; then
        wrk_run "keywarden-forward-auth-rate-redis-r$run" "$SHARED" "$SFA" "Api-Key $RATED" GET
        [ "$LAST_NON2XX" = 0 ] || fail "forward-auth rate limit through Redis: $LAST_NON2XX answers were not 200"
    fi
done
if [ -n "$SHARED" ]; then
    stop_pid "$SHARED"
fi

# --- 4c. usage counting (SPEC §10) ----------------------------------------------------------------
# The same database served by a second instance with `usage_counting = false`: the cost of
# counting every check (per hour, outcome, product and address; written every second) is the
# difference between the two, measured in the same interleaved rounds beside the ceiling.
UNCOUNTED_PORT=$((PORT_BASE + 6))
{ printf 'usage_counting = false\n'; cat "$CONFIG"; } > "$WORK/load-uncounted.toml"
start_keywarden "$DATA" "$UNCOUNTED_PORT" "$WORK/load-uncounted.toml"
UNCOUNTED=$KW_PID
UFA="http://127.0.0.1:$UNCOUNTED_PORT/v1/forward-auth/"
expect "forward-auth without usage counting" 200 "$(status_of GET "$UFA" "Api-Key $VALID")"
echo
echo "# forward-auth, valid key, usage counting on and off: $RUNS interleaved rounds"
case_header
for run in $(seq 1 "$RUNS"); do
    wrk_run "ceiling-forward-auth-counting-r$run" "$CEILING" "$CFA" "Api-Key $VALID" GET
    wrk_run "keywarden-forward-auth-counted-r$run" "$KW" "$FA" "Api-Key $VALID" GET
    wrk_run "keywarden-forward-auth-uncounted-r$run" "$UNCOUNTED" "$UFA" "Api-Key $VALID" GET
    [ "$LAST_NON2XX" = 0 ] || fail "forward-auth without usage counting: $LAST_NON2XX answers were not 200"
done
stop_pid "$UNCOUNTED"

# --- 5. oha, open loop --------------------------------------------------------------------------
if [ -n "$OHA" ] && [ -n "$RATES" ]; then
    echo
    echo "# forward-auth, valid key, open loop (oha -c$CONNS -z$DURATION --latency-correction)"
    case_header
    for rate in $RATES; do
        for run in $(seq 1 "$RUNS"); do
            oha_run "ceiling-forward-auth-q$rate-r$run" "$CEILING" "$CFA" "Api-Key $VALID" "$rate"
            oha_run "keywarden-forward-auth-valid-q$rate-r$run" "$KW" "$FA" "Api-Key $VALID" "$rate"
        done
    done
fi

echo
echo "# peak resident memory (VmHWM) after the runs"
echo "keywarden ($KEYS keys): $(peak_kb "$KW") kB; ceiling: $(peak_kb "$CEILING") kB; ceiling with layers: $(peak_kb "$LAYERS") kB; ceiling with the answer: $(peak_kb "$ANSWER") kB${PEER_PID:+; peer (master + workers, shared pages counted per process): $(peak_kb "$PEER_PID") kB}" | tee -a "$RESULTS/summary.txt"

# --- 6. start-up and memory ----------------------------------------------------------------------
stop_pid "$KW"
if [ -n "$MEMORY_KEYS" ]; then
    echo
    echo "# start-up (spawn to first 200 on /healthz) and resident memory after start-up"
    EMPTY=$(seed 3)
    BIG=$(seed "$MEMORY_KEYS")
    for run in $(seq 1 "$RUNS"); do
        start_keywarden "$EMPTY" "$KW_PORT"
        empty_ms=$STARTUP_MS empty_rss=$(rss_kb "$KW_PID")
        stop_pid "$KW_PID"
        start_keywarden "$BIG" "$KW_PORT"
        big_ms=$STARTUP_MS big_rss=$(rss_kb "$KW_PID")
        stop_pid "$KW_PID"
        awk -v n="$MEMORY_KEYS" -v e="$empty_rss" -v b="$big_rss" -v em="$empty_ms" -v bm="$big_ms" -v r="$run" \
            'BEGIN { printf "run %d: 3 keys: %d ms, %d kB; %d keys: %d ms, %d kB; %.1f bytes per key\n",
                     r, em, e, n, bm, b, (b - e) * 1024 / n }' | tee -a "$RESULTS/summary.txt"
    done
fi

# --- 7. medians and ratios ------------------------------------------------------------------------
echo
echo "# medians of the interleaved rounds, and Keywarden's ratios"
python3 - "$RESULTS/summary.txt" <<'PY' | tee -a "$RESULTS/medians.txt"
import re, statistics, sys
rounds = {}
for line in open(sys.argv[1]):
    f = line.split()
    m = re.fullmatch(r"(.+)-r\d+", f[0]) if f else None
    if m and len(f) == 7:
        rounds.setdefault(m.group(1), []).append((float(f[1]), float(f[6]), f[3]))
med = {case: (statistics.median(r for r, _, _ in rs), statistics.median(c for _, c, _ in rs))
       for case, rs in rounds.items()}
for case, (rps, cpu) in med.items():
    p99s = [p for _, _, p in rounds[case]]
    p99 = ""
    if "-q" in case and all(p.endswith("us") for p in p99s):
        p99 = f", p99 median {statistics.median(float(p[:-2]) for p in p99s) / 1000:.2f} ms: " + " / ".join(p99s)
    print(f"{case:<44} median {rps:10.1f} req/s {cpu:7.1f} us/req ({len(rounds[case])} rounds{p99})")
kw = med.get("keywarden-forward-auth-valid")
for other, label in [("ceiling-forward-auth", "the bare ceiling"),
                     ("ceiling-with-answer", "the ceiling with Keywarden's answer")]:
    if kw and other in med:
        print(f"keywarden forward-auth: {100 * kw[0] / med[other][0]:.0f} % of the req/s of {label}, "
              f"{kw[1] - med[other][1]:+.1f} us of CPU per request")
plain = med.get("keywarden-forward-auth-plain")
for case in ["allowlist-100", "rate-local", "rate-redis"]:
    got = med.get(f"keywarden-forward-auth-{case}")
    if plain and got:
        print(f"keywarden forward-auth, {case}: {100 * got[0] / plain[0]:.0f} % of a plain key's req/s, "
              f"{got[1] - plain[1]:+.1f} us of CPU per request")
counted, uncounted = med.get("keywarden-forward-auth-counted"), med.get("keywarden-forward-auth-uncounted")
ceiling = med.get("ceiling-forward-auth-counting")
if counted and uncounted:
    print(f"keywarden forward-auth, usage counting on: {100 * counted[0] / uncounted[0]:.0f} % of the req/s "
          f"with it off, {counted[1] - uncounted[1]:+.1f} us of CPU per request")
    if ceiling:
        print(f"keywarden forward-auth beside the ceiling in those rounds: counting on "
              f"{100 * counted[0] / ceiling[0]:.0f} %, off {100 * uncounted[0] / ceiling[0]:.0f} % of its req/s")
if kw and "peer-valid" in med:
    print(f"keywarden forward-auth: {kw[0] / med['peer-valid'][0]:.0f}x the peer's req/s, "
          f"{med['peer-valid'][1] / kw[1]:.0f}x less CPU per request")
PY

echo
echo "# load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); raw output in $RESULTS"
if [ "$failures" -gt 0 ]; then
    echo "load test: $failures check(s) failed" >&2
    exit 1
fi
echo "load test: all status checks passed"
