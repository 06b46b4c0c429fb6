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
# This host's address on its outward interface, if it has one: nginx listens there too, so a
# client that is not on loopback (and so not a trusted proxy) can be tried.
HOST_IP=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect(("192.0.2.1", 9)); print(s.getsockname()[0])' 2>/dev/null || true)
case "$HOST_IP" in ""|127.*) HOST_IP=""; HOST_LISTEN="" ;; *) HOST_LISTEN="listen $HOST_IP:$NG_PORT;" ;; esac

export KEYWARDEN_DATA_DIR="$scratch/data"
# The canary check's webhook receiver listens on loopback.
export KEYWARDEN_WEBHOOKS_ALLOW_PRIVATE_TARGETS=true
account=$(printf '%s' 'correct horse battery staple' |
    "$bin" admin create-account --name Acme --email ada@example.com --password-stdin)
KEY=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["keys"]["test"])' <<<"$account")

"$bin" serve --listen "127.0.0.1:$KW_PORT" >"$scratch/keywarden.log" 2>&1 &
pids+=($!)
python3 "$here/upstream.py" "$UP_PORT" &
pids+=($!)
sed -e "s|@SCRATCH@|$scratch|g" -e "s|@KEYWARDEN_PORT@|$KW_PORT|g" \
    -e "s|@UPSTREAM_PORT@|$UP_PORT|g" -e "s|@NGINX_PORT@|$NG_PORT|g" \
    -e "s|@HOST_LISTEN@|$HOST_LISTEN|g" \
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

# A key that may be used only from two ranges (SPEC §9), one of them IPv6.
FENCED=$(curl -s -X POST "http://127.0.0.1:$KW_PORT/v1/api-keys/" -H "Authorization: Bearer $ACCESS" \
    -H 'Content-Type: application/json' \
    -d '{"label":"Office-Only","type":"test","scopes":["payroll:read"],"allowed_ips":["203.0.113.0/24","2001:db8:1::/48"]}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')

BASE="http://127.0.0.1:$NG_PORT"
HOST_BASE=${HOST_IP:+"http://$HOST_IP:$NG_PORT"}
export BASE KEY READER FENCED HOST_IP HOST_BASE
python3 "$here/check.py"

# Usage insight (SPEC §10): known traffic through nginx read back exactly, then again after a
# restart of Keywarden (SIGTERM: the last batch is written on the way out).
export API="http://127.0.0.1:$KW_PORT" ACCESS USAGE_STATE="$scratch/usage-key"
python3 "$here/usage.py" drive
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
"$bin" serve --listen "127.0.0.1:$KW_PORT" >>"$scratch/keywarden.log" 2>&1 &
pids[0]=$!
for _ in $(seq 1 100); do curl -s -o /dev/null "$API/healthz" && break; sleep 0.1; done
python3 "$here/usage.py" reread

# Canary keys (SPEC §8): the attacker gets the unknown key's plain 401; the audit trail and a
# webhook receiver learn the address nginx passed.
python3 "$here/canary.py"
