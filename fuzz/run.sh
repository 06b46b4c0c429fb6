#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 20) on the stable toolchain, from its kept corpus,
# and fails if any target finds a crash (the input is left in fuzz/artifacts/<target>/; add it
# to the corpus and a regression test once fixed). cargo-fuzz is installed into target/ here.
#
#   fuzz/run.sh                  # CI: 20 s a target
#   SECONDS_PER_TARGET=600 fuzz/run.sh   # a long run (docs/RELIABILITY.md records one)
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd .. && pwd)
seconds=${SECONDS_PER_TARGET:-20}
tools="$root/target/tools"
if [ ! -x "$tools/bin/cargo-fuzz" ]; then
    cargo install cargo-fuzz --locked --version 0.13.2 --root "$tools" >/dev/null
fi
targets="authorization_header key_format forward_auth_target request_bodies configuration key_scan"
# One build for every target (cargo-fuzz builds them all when none is named).
"$tools/bin/cargo-fuzz" build --sanitizer none --release
total=0
for target in $targets; do
    # New inputs go to a working corpus under target/; the kept seeds in corpus/ are read only.
    work="$root/target/fuzz-corpus/$target"
    mkdir -p "$work" "corpus/$target" "artifacts/$target"
    log="$root/target/fuzz-$target.log"
    "$tools/bin/cargo-fuzz" run --sanitizer none --release "$target" "$work" "corpus/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1 || {
        tail -n 40 "$log"
        echo "fuzz target $target failed: see fuzz/artifacts/$target/" >&2
        exit 1
    }
    runs=$(awk '/stat::number_of_executed_units/{print $2}' "$log" | tail -n 1)
    echo "fuzz $target: ${runs:-0} executions in ${seconds} s, no crash"
    total=$((total + ${runs:-0}))
done
echo "fuzz: $total executions in all"
