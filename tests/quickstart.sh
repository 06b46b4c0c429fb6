#!/usr/bin/env bash
# Runs the README's quickstart verbatim, in a scratch folder, and checks what it printed, where
# it left the secrets, and what a failing step shows.
# The commands are taken from between the quickstart markers in README.md; only `cargo` is
# pointed at this checkout so the scratch folder can stand in for it.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d)
trap 'kill %1 2>/dev/null || true; rm -rf "$scratch"' EXIT

if curl -s -o /dev/null http://127.0.0.1:8080/healthz; then
    echo "quickstart: something already listens on 127.0.0.1:8080; stop it first" >&2
    exit 1
fi

script="$scratch/quickstart.sh"
{
    echo 'set -euo pipefail'
    echo "cargo() { command cargo \"\$@\" --manifest-path '$repo/Cargo.toml'; }"
    awk '/<!-- quickstart:begin -->/{on=1; next} /<!-- quickstart:end -->/{on=0} on' "$repo/README.md" |
        awk '/^```sh$/{code=1; next} /^```$/{code=0} code'
} > "$script"

ln -s "$repo/target" "$scratch/target"
cd "$scratch"
output=$(bash "$script" 2>&1) || { echo "$output"; echo "quickstart: FAILED" >&2; exit 1; }

expect() {
    if ! grep -q -- "$1" <<<"$output"; then
        echo "$output"
        echo "quickstart: expected to see: $1" >&2
        exit 1
    fi
}
expect '"test": "sk_test_'
expect 'HTTP/1.1 200 OK'
expect 'x-keywarden-mode: test'
expect 'HTTP/1.1 401 Unauthorized'
expect '"code":"key_rotated"'
expect 'HTTP/1.1 403 Forbidden'
expect '"required_scope":"payroll:write"'
[ "$(grep -c 'HTTP/1.1 200 OK' <<<"$output")" -eq 3 ] || { echo "$output"; echo "quickstart: expected three 200s" >&2; exit 1; }
# The secrets stay out of the work tree: account.json is under the ignored data folder, and
# only its owner may read it.
[ -f keywarden-data/account.json ] || { echo "quickstart: keywarden-data/account.json is missing" >&2; exit 1; }
[ ! -e account.json ] || { echo "quickstart: account.json was written into the work tree" >&2; exit 1; }
[ "$(stat -c %a keywarden-data/account.json)" = 600 ] || { echo "quickstart: account.json is readable by others" >&2; exit 1; }

# A step that fails shows the API's own error, not a Python traceback: the README's `field`
# helper, verbatim, given the answer of a sign-in with a wrong password.
helper=$(awk '/^field\(\) /{on=1} on{print} on && /"\$1"; }$/{exit}' "$script")
[ -n "$helper" ] || { echo "quickstart: the README's field helper was not found" >&2; exit 1; }
wrong=$(bash -c "$helper"'
printf "%s" "{\"detail\": \"No active account found with the given credentials\", \"code\": \"invalid_credentials\"}" | field access' 2>&1) && {
    echo "quickstart: field succeeded on an error answer" >&2; exit 1; }
grep -q '"code": "invalid_credentials"' <<<"$wrong" || { echo "$wrong"; echo "quickstart: the API's error was not shown" >&2; exit 1; }
! grep -q Traceback <<<"$wrong" || { echo "$wrong"; echo "quickstart: a traceback was shown" >&2; exit 1; }
echo "quickstart: 2 passed, 0 failed"
