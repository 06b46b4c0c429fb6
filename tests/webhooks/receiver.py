#!/usr/bin/env python3
"""A webhook receiver that checks Keywarden's deliveries with the Standard Webhooks library
(PyPI `standardwebhooks`), as a customer's receiver would.

Usage: receiver.py SECRET [SECRET ...]

Listens on 127.0.0.1 (a free port) and prints `listening PORT`; then, for every POST, one JSON
line: the webhook id, type and key id, for each SECRET whether `Webhook(SECRET).verify` accepts
the delivery, and whether the same delivery with one byte added to its body is accepted (it
must not be). Answers 204 when some secret verifies, 400 otherwise. Runs until killed.
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def verified_event(secret, body, headers):
    """The event of a delivery whose signature verifies under `secret` (the whsec_... text,
    as given), or None. `body` is the raw request body (bytes), `headers` its headers."""
    try:
        return Webhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return None


SECRETS = sys.argv[1:]


def verifies(secret, body, headers):
    return verified_event(secret, body, headers) is not None


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        headers = {name: value for name, value in self.headers.items()}
        verified = [verifies(secret, body, headers) for secret in SECRETS]
        tampered = any(verifies(secret, body + b" ", headers) for secret in SECRETS)
        try:
            event = json.loads(body)
        except ValueError:
            event = {}
        key = (event.get("data") or {}).get("key") or {}
        print(
            json.dumps(
                {
                    "webhook_id": headers.get("webhook-id"),
                    "type": event.get("type"),
                    "key_id": key.get("id"),
                    "verified": verified,
                    "tampered_accepted": tampered,
                }
            ),
            flush=True,
        )
        self.send_response(204 if any(verified) else 400)
        self.end_headers()

    def log_message(self, *args):
        pass


def main():
    if not SECRETS:
        sys.exit("usage: receiver.py SECRET [SECRET ...]")
    server = HTTPServer(("127.0.0.1", 0), Handler)
    print(f"listening {server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
