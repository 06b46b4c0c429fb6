#!/usr/bin/env bash
# Forward-auth behind a real nginx: the seeds' curl, Python and JavaScript examples work
# unchanged against GET /v1/customers/, and refusals carry Keywarden's JSON bodies.
# Needs a built `keywarden` (KEYWARDEN_TEST_BIN, default target/debug/keywarden) and nginx
# (installed from Debian's packages if missing).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=${KEYWARDEN_TEST_BIN:-$repo/target/debug/keywarden}
here="$repo/tests/nginx"

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    apt-get install -y -q nginx-light >/dev/null 2>&1 || apt-get install -y -q nginx >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

scratch=$(mktemp -d)
pids=()
cleanup() {
    [ -f "$scratch/nginx.pid" ] && kill "$(cat "$scratch/nginx.pid")" 2>/dev/null || true
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$scratch"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
KW_PORT=$(free_port); UP_PORT=$(free_port); NG_PORT=$(free_port)

export KEYWARDEN_DATA_DIR="$scratch/data"
account=$(printf '%s' 'correct horse battery staple' |
    "$bin" admin create-account --name Acme --email ada@example.com --password-stdin)
KEY=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["keys"]["test"])' <<<"$account")

"$bin" serve --listen "127.0.0.1:$KW_PORT" >"$scratch/keywarden.log" 2>&1 &
pids+=($!)
python3 "$here/upstream.py" "$UP_PORT" &
pids+=($!)
sed -e "s|@SCRATCH@|$scratch|g" -e "s|@KEYWARDEN_PORT@|$KW_PORT|g" \
    -e "s|@UPSTREAM_PORT@|$UP_PORT|g" -e "s|@NGINX_PORT@|$NG_PORT|g" \
    "$here/nginx.conf.template" >"$scratch/nginx.conf"
"$NGINX" -c "$scratch/nginx.conf" -p "$scratch"

for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$KW_PORT/healthz" && curl -s -o /dev/null "http://127.0.0.1:$NG_PORT/" && break
    sleep 0.1
done

# A restricted key that reads only Payroll, made through the console API.
ACCESS=$(curl -s -X POST "http://127.0.0.1:$KW_PORT/v1/auth/token/" -H 'Content-Type: application/json' \
    -d '{"email":"ada@example.com","password":"correct horse battery staple"}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access"])')
READER=$(curl -s -X POST "http://127.0.0.1:$KW_PORT/v1/api-keys/" -H "Authorization: Bearer $ACCESS" \
    -H 'Content-Type: application/json' -d '{"label":"Payroll-Reader","type":"test","scopes":["payroll:read"]}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')

BASE="http://127.0.0.1:$NG_PORT"
export BASE KEY READER
python3 "$here/check.py"
