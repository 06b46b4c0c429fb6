"""The checks of tests/nginx/run.sh, each printed as it passes or fails, then a summary line."""
import base64
import json
import os
import subprocess

from probe import call, check, finish

BASE, KEY, READER = os.environ["BASE"], os.environ["KEY"], os.environ["READER"]


def request(path, authorization=None, method="GET", headers=None, base=None):
    sent = dict(headers or {})
    if authorization is not None:
        sent["Authorization"] = authorization
    return call((base or BASE) + path, method, sent)


# The seed's curl example, verbatim but for the host.
curl = subprocess.run(
    ["curl", "-s", "-X", "GET", f"{BASE}/v1/customers/", "-H", f"Authorization: Api-Key {KEY}"],
    capture_output=True, text=True, check=False)
body = json.loads(curl.stdout or "null")
check("curl with Api-Key reaches /v1/customers/", isinstance(body, dict) and body.get("customers"), curl.stdout)
check("the platform sees the account and mode", body and body.get("mode") == "test" and body.get("account"), curl.stdout)
check("the key itself is not forwarded upstream", body and body.get("authorization_forwarded") is False, curl.stdout)

# The seed's Python example (urllib stands in for requests).
status, body = request("/v1/customers/", f"Api-Key {KEY}")
check("Python example: 200", status == 200 and body.get("customers"), f"{status} {body}")

# Basic (RFC 7617) with the key as user name and an empty password.
basic = base64.b64encode(f"{KEY}:".encode()).decode()
status, body = request("/v1/customers/", f"Basic {basic}")
check("Basic key: 200", status == 200, f"{status} {body}")
status, body = request("/v1/customers/", f"Bearer {KEY}")
check("Bearer key: 200", status == 200, f"{status} {body}")

# The seed's JavaScript example, run by node's fetch.
script = (
    f'const apiKey = "{KEY}";'
    f'fetch("{BASE}/v1/customers/", {{method: "GET", headers: {{Authorization: `Api-Key ${{apiKey}}`}}}})'
    '.then((res) => res.json()).then((data) => console.log(JSON.stringify(data)));'
)
node = subprocess.run(["node", "-e", script], capture_output=True, text=True, check=False)
try:
    body = json.loads(node.stdout or "null")
except ValueError:
    body = None
check("JavaScript example: customers", isinstance(body, dict) and body.get("customers"), node.stdout + node.stderr)

# Refusals carry Keywarden's JSON through nginx.
status, body = request("/v1/customers/")
check("no header: 401 not provided", status == 401 and body == {"detail": "Authentication credentials were not provided."}, f"{status} {body}")
# The last character changed (to one it is not: a key ending in "x" would stay valid).
damaged = KEY[:-1] + ("y" if KEY.endswith("x") else "x")
status, body = request("/v1/customers/", f"Api-Key {damaged}")
check("bad checksum: 401 invalid_key_format", status == 401 and body.get("code") == "invalid_key_format" and body.get("hint"), f"{status} {body}")
status, body = request("/v1/customers/", "Api-Key sk_test_" + "A" * 32 + "0z02M7")
check("unknown key: 401 key_not_found", status == 401 and body == {"detail": "Invalid API Key", "code": "key_not_found"}, f"{status} {body}")
status, body = request("/v1/payroll/runs/", f"Api-Key {READER}")
check("restricted key reads its product", status == 200, f"{status} {body}")
status, body = request("/v1/payroll/runs/", f"Api-Key {READER}", method="POST")
check("restricted key cannot write: 403", status == 403 and body.get("required_scope") == "payroll:write", f"{status} {body}")
status, body = request("/v1/customers/", f"Api-Key {READER}")
check("restricted key cannot reach other paths: 403", status == 403 and body.get("code") == "insufficient_scope", f"{status} {body}")
status, body = request("/v1/payroll/../health/x", f"Api-Key {READER}")
check("dot segments do not widen a restricted key", status in (400, 403, 404), f"{status} {body}")

# A key with an allowlist (SPEC §9): the client address is what nginx passes in
# X-Forwarded-For. This client is on loopback, itself a trusted proxy, so the address it
# forwards is believed, as a proxy in front of nginx would be.
FENCED = os.environ["FENCED"]
for client in ["203.0.113.9", "2001:db8:1::5"]:
    status, body = request("/v1/payroll/runs/", f"Api-Key {FENCED}", headers={"X-Forwarded-For": client})
    check(f"allowlisted key from {client}: 200", status == 200, f"{status} {body}")
status, body = request("/v1/payroll/runs/", f"Api-Key {FENCED}", headers={"X-Forwarded-For": "198.51.100.1"})
check("allowlisted key from elsewhere: 403 ip_not_allowed",
      status == 403 and body == {"detail": "This API key may not be used from 198.51.100.1.", "code": "ip_not_allowed"},
      f"{status} {body}")
status, body = request("/v1/payroll/runs/", f"Api-Key {FENCED}")
check("allowlisted key from loopback itself: 403", status == 403 and body.get("code") == "ip_not_allowed", f"{status} {body}")
# A client that is not a trusted proxy cannot claim an allowed address: nginx appends the
# address it saw, and Keywarden stops there.
HOST_IP, HOST_BASE = os.environ.get("HOST_IP", ""), os.environ.get("HOST_BASE", "")
if HOST_IP:
    status, body = request("/v1/payroll/runs/", f"Api-Key {FENCED}",
                           headers={"X-Forwarded-For": "203.0.113.9"}, base=HOST_BASE)
    check("a spoofed X-Forwarded-For from an untrusted client is ignored: 403",
          status == 403 and body.get("detail") == f"This API key may not be used from {HOST_IP}.",
          f"{status} {body}")
else:
    print("SKIPPED: this host has no address besides loopback (the spoofed X-Forwarded-For check)")

finish("nginx forward-auth")
