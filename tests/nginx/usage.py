"""Usage insight through a real nginx (SPEC §10), run by tests/nginx/run.sh in two phases:

  usage.py drive   known traffic through nginx (allowed, 403, 401, from several client addresses
                   named in X-Forwarded-For by a trusted proxy), then the usage report read back
                   exactly from the console API once the batch is written;
  usage.py reread  after the server was restarted: the written counts are all still there.
"""
import os
import sys
import time

from probe import call, check, finish

BASE, API, ACCESS = os.environ["BASE"], os.environ["API"], os.environ["ACCESS"]
STATE = os.environ["USAGE_STATE"]


def console(path, method="GET", body=None):
    return call(API + path, method, {"Authorization": f"Bearer {ACCESS}"}, body)


# What the drive phase sends: (method, path, client address, expected status[, headers]).
TRAFFIC = [
    ("GET", "/v1/payroll/runs/", "203.0.113.10", 200),
    ("GET", "/v1/payroll/runs/", "203.0.113.10", 200),
    ("GET", "/v1/payroll/runs/", "203.0.113.10", 200),
    ("GET", "/v1/payroll/slips/", "198.51.100.20", 200),
    ("GET", "/v1/payroll/slips/", "198.51.100.20", 200),
    ("POST", "/v1/payroll/runs/", "203.0.113.10", 403),
    ("GET", "/v1/asset/list/", "2001:db8::7", 403),
    # A client claiming its request only fetches a refusal's body: nginx clears the claim.
    ("GET", "/v1/asset/list/", "2001:db8::7", 403, {"X-Keywarden-Body-Only": "1"}),
]
EXPECTED = {
    "totals": {"requests": 8, "allowed": 5, "denied": {"insufficient_scope": 3}},
    "products": {"payroll": {"read": 5, "write": 1}, "asset": {"read": 2, "write": 0}},
    "addresses": [("203.0.113.10", 4, 1), ("198.51.100.20", 2, 0), ("2001:db8::7", 2, 2)],
}


def report(key_id):
    """The key's usage, polled until the background batch has been written (1 s by default)."""
    deadline = time.time() + 10
    while True:
        status, body = console(f"/v1/api-keys/{key_id}/usage/")
        if status != 200 or body["totals"]["requests"] >= 8 or time.time() > deadline:
            return status, body
        time.sleep(0.2)


def compare(key_id, when):
    status, body = report(key_id)
    check(f"{when}: the usage report answers 200", status == 200, f"{status} {body}")
    if status != 200:
        return
    check(f"{when}: totals exact", body["totals"] == EXPECTED["totals"], body["totals"])
    check(f"{when}: products exact", body["products"] == EXPECTED["products"], body["products"])
    seen = [(a["address"], a["requests"], a["refused"]) for a in body["addresses"]]
    check(f"{when}: client addresses exact", seen == EXPECTED["addresses"], seen)
    allowed = sum(bucket["allowed"] for bucket in body["series"])
    check(f"{when}: the hourly series adds up", allowed == 5, body["series"])
    status, impact = console(f"/v1/api-keys/{key_id}/impact/")
    check(f"{when}: impact counts successful requests only",
          status == 200 and impact["requests_last_24_hours"] == 5 and impact["addresses_last_24_hours"] == 2
          and impact["last_used_ip"] == "198.51.100.20", impact)


if sys.argv[1] == "drive":
    status, created = console("/v1/api-keys/", "POST",
                              {"label": "Usage-Probe", "type": "test", "scopes": ["payroll:read"]})
    check("a key to count: 201", status == 201, f"{status} {created}")
    key, key_id = created["key"], created["id"]
    for method, path, client, expected, *extra in TRAFFIC:
        headers = {"Authorization": f"Api-Key {key}", "X-Forwarded-For": client, **(extra[0] if extra else {})}
        status, body = call(BASE + path, method, headers)
        check(f"{method} {path} from {client}: {expected}", status == expected, f"{status} {body}")
    # An unknown key is nobody's usage, and a refusal before any key is found counts nowhere.
    call(BASE + "/v1/payroll/runs/", "GET", {"Authorization": "Api-Key " + key[:-4] + "AAAA"})
    compare(key_id, "through nginx")
    with open(STATE, "w") as f:
        f.write(key_id)
else:
    with open(STATE) as f:
        compare(f.read().strip(), "after a restart")

finish(f"nginx usage ({sys.argv[1]})")
