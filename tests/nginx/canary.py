"""A canary key through a real nginx (SPEC §8): the attacker who presents it gets the unknown
key's plain 401, while the account's audit trail and its webhook receiver learn the client
address nginx passed, the user agent and the request."""
import json
import os
import secrets
import threading
import zlib
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

from probe import call, check, finish

BASE, API, ACCESS = os.environ["BASE"], os.environ["API"], os.environ["ACCESS"]
ATTACKER, AGENT, PATH = "203.0.113.66", "sqlmap/1.8", "/v1/customers/?page=2"
received = []
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def unknown_key(prefix):
    text = prefix + "".join(secrets.choice(BASE62) for _ in range(32))
    crc, digits = zlib.crc32(text.encode()), ""
    for _ in range(6):
        crc, digit = divmod(crc, 62)
        digits = BASE62[digit] + digits
    return text + digits


class Hook(BaseHTTPRequestHandler):
    def do_POST(self):
        received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def console(path, method="GET", body=None):
    return call(API + path, method, {"Authorization": f"Bearer {ACCESS}"}, body)


def wait_for(what, get, deadline_s=15):
    deadline = time.time() + deadline_s
    while time.time() < deadline:
        found = get()
        if found:
            return found
        time.sleep(0.2)
    return get()


hook = HTTPServer(("127.0.0.1", 0), Hook)
threading.Thread(target=hook.serve_forever, daemon=True).start()
status, endpoint = console("/v1/webhook-endpoints/", "POST",
                           {"url": f"http://127.0.0.1:{hook.server_port}/hook", "events": ["key.canary_used"]})
check("a webhook endpoint for key.canary_used: 201", status == 201, f"{status} {endpoint}")
status, created = console("/v1/api-keys/", "POST", {"label": "canary: .env in a honeypot repo", "type": "live", "canary": True})
check("a canary key: 201", status == 201 and created.get("canary") is True, f"{status} {created}")
canary, canary_id = created["key"], created["id"]

# The attacker, behind whatever it is, reaches nginx; nginx says who it is in X-Forwarded-For.
headers = {"X-Forwarded-For": ATTACKER, "User-Agent": AGENT}
got = call(BASE + PATH, "GET", {**headers, "Authorization": f"Api-Key {canary}"})
check("the canary through nginx: a plain 401 key_not_found",
      got == (401, {"detail": "Invalid API Key", "code": "key_not_found"}), got)
# An unknown key of the same shape (SPEC §2: 32 random base62 characters, then the CRC-32 of
# everything before them in 6 base62 digits) must get the very same answer.
check("an unknown key through nginx gets the very same answer",
      call(BASE + PATH, "GET", {**headers, "Authorization": f"Api-Key {unknown_key('rk_live_')}"}) == got)

def trips():
    status, page = console("/v1/audit-events/?action=key.canary_used")
    return page["results"] if status == 200 else []


events = wait_for("the audit event", trips)
check("one key.canary_used audit event", len(events) == 1, events)
if events:
    event = events[0]
    check("the audit trail has the address nginx passed", event["actor"].get("ip") == ATTACKER, event)
    check("the audit trail has the user agent", event["actor"].get("user_agent") == AGENT, event)
    check("the audit trail has the method and URI", event["detail"].endswith(f": GET {PATH}"), event)
    check("the event is about the canary", event["key_id"] == canary_id, event)

deliveries = wait_for("the webhook", lambda: received)
check("the webhook receiver got key.canary_used",
      len(deliveries) == 1 and deliveries[0]["type"] == "key.canary_used", deliveries)
if deliveries:
    data = deliveries[0]["data"]
    check("the webhook names the address nginx passed", f"from {ATTACKER} ({AGENT})" in data["detail"], data)
    check("the webhook carries the canary", data["key"]["id"] == canary_id and data["key"]["canary"] is True, data)
    check("the webhook carries no secret", canary not in json.dumps(deliveries[0]))

status, key = console(f"/v1/api-keys/{canary_id}/")
check("the canary shows one trip", status == 200 and key["tripped_count"] == 1 and key["last_tripped_at"], key)
hook.shutdown()
finish("nginx canary")
