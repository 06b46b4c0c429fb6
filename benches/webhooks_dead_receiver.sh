#!/usr/bin/env bash
# Forward-auth throughput with no webhook endpoints, then with 10 endpoints whose receiver is
# dead (connection refused) while keys keep changing, then with the endpoints removed.
# Usage: benches/webhooks_dead_receiver.sh (after `cargo build --release`; needs wrk, curl,
# python3). Prints req/s of each phase, and the webhook figures of /metrics.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$repo/target/release/keywarden}
dir=$(mktemp -d); cd "$dir"
port=18555
printf '%s' 'bench password 0123' | "$BIN" admin create-account --name Bench --email b@example.com --password-stdin > account.json
KEY=$(python3 -c 'import json; print(json.load(open("account.json"))["keys"]["test"])')
KEYWARDEN_LOG_LEVEL=warn KEYWARDEN_WEBHOOKS_ALLOW_PRIVATE_TARGETS=true "$BIN" serve --listen 127.0.0.1:$port > serve.log 2>&1 &
server=$!; trap 'kill $server 2>/dev/null; [ -n "$churn" ] && kill $churn 2>/dev/null; rm -rf "$dir"' EXIT
churn=""
for _ in $(seq 50); do curl -sf http://127.0.0.1:$port/healthz >/dev/null && break; sleep 0.2; done
B=http://127.0.0.1:$port
TOKEN=$(curl -s -X POST $B/v1/auth/token/ -H 'Content-Type: application/json' -d '{"email":"b@example.com","password":"bench password 0123"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access"])')
cat > fa.lua <<LUA
wrk.headers["Authorization"] = "Api-Key $KEY"
wrk.headers["X-Original-URI"] = "/v1/customers/"
LUA
measure() { wrk -t2 -c32 -d10s -s fa.lua $B/v1/forward-auth/ | awk -v l="$1" '/Requests\/sec/{print l, $2, "req/s"} /Non-2xx/{print l, "NON-2XX", $0}'; }
# Keys keep changing during every run (about 8 a second): with the endpoints, each change is
# 10 deliveries to the dead receiver, retried on the schedule.
( while true; do curl -s -o /dev/null -X POST $B/v1/api-keys/ -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{"label":"churn","type":"test","scopes":["payroll:read"]}'; sleep 0.1; done ) &
churn=$!
sleep 2
measure "no endpoints        "
ids=()
for i in $(seq 10); do
  ids+=("$(curl -s -X POST $B/v1/webhook-endpoints/ -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{"url":"http://127.0.0.1:9/hook","events":["*"]}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')")
done
sleep 3
measure "10 dead endpoints   "
curl -s $B/metrics | grep -E "^keywarden_webhook" || true
for id in "${ids[@]}"; do curl -s -o /dev/null -X DELETE $B/v1/webhook-endpoints/$id/ -H "Authorization: Bearer $TOKEN"; done
measure "endpoints removed   "
