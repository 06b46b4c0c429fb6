"""A stand-in platform service: answers GET /v1/customers/ with the account and mode nginx
passed on from Keywarden, and refuses any request that did not come through the check."""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def _answer(self):
        account = self.headers.get("X-Keywarden-Account")
        if not account:
            self.send_response(500)
            self.end_headers()
            return
        body = json.dumps({
            "customers": [{"id": 1, "name": "Ada"}],
            "account": account,
            "mode": self.headers.get("X-Keywarden-Mode"),
            "authorization_forwarded": self.headers.get("Authorization") not in (None, ""),
            "method": self.command,
            "path": self.path,
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
