#!/usr/bin/env bash
# The browser suite, as CI runs it from a clean clone with `target/debug/keywarden` built:
# installs Debian's Chromium if it is missing, the pinned Playwright from package-lock.json
# (no browser download), then runs every spec against the real binary.
# Exits non-zero when any spec fails; Playwright prints its summary ("N passed (Xs)").
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

bin="${KEYWARDEN_TEST_BIN:-target/debug/keywarden}"
case "$bin" in /*) ;; *) bin="$repo/$bin" ;; esac
if [ ! -x "$bin" ]; then
    echo "browser tests: no keywarden binary at $bin; run 'cargo build' first (or set KEYWARDEN_TEST_BIN)" >&2
    exit 1
fi
export KEYWARDEN_TEST_BIN="$bin"

if [ ! -x /usr/bin/chromium ]; then
    echo "browser tests: installing Debian's chromium"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium >/dev/null
fi
/usr/bin/chromium --version 2>/dev/null || true

cd "$here"
npm ci --no-audit --no-fund --loglevel=error
status=0
npx --no-install playwright test "$@" || status=$?
if [ "$status" -ne 0 ]; then
    echo "browser tests: FAILED (exit $status); traces are in tests/browser/test-results/, the server's log in tests/browser/test-results/server.log" >&2
fi
exit "$status"
