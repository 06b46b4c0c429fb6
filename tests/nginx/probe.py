"""What the nginx checks share: one request → (status, JSON body), and checks printed as they
pass or fail, with a summary and exit status at the end."""
import json
import urllib.error
import urllib.request

_counts = {"passed": 0, "failed": 0}


def call(url, method="GET", headers=None, body=None):
    """`method url` with `headers` (and `body` as JSON); the status and the parsed JSON body."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, method=method, data=data)
    for name, value in (headers or {}).items():
        req.add_header(name, value)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def check(name, condition, detail=""):
    if condition:
        _counts["passed"] += 1
        print(f"ok   {name}")
    else:
        _counts["failed"] += 1
        print(f"FAIL {name} {detail}")


def finish(what):
    """Prints the summary line and exits 1 if any check failed."""
    print(f"{what}: {_counts['passed']} passed, {_counts['failed']} failed")
    raise SystemExit(1 if _counts["failed"] else 0)
