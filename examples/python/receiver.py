"""A pathhook webhook receiver in Python, standard library only.

    WEBHOOK_SECRET='your webhook secret' PORT=4000 python3 receiver.py

Set PLATFORM if your platform is not Falkor (ByteKast, TrainiApp, ...): it
names the headers. HOST defaults to 127.0.0.1.
"""
import hashlib
import hmac
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = os.environ.get("WEBHOOK_SECRET", "").encode()
PLATFORM = os.environ.get("PLATFORM", "Falkor")
PORT = int(os.environ.get("PORT", "4000"))
HOST = os.environ.get("HOST", "127.0.0.1")
MAX_BODY = 5 * 1024 * 1024


def signature_matches(header, body):
    """Whether header is "sha256=" and the hex HMAC-SHA256 of the raw body
    under the secret, compared in constant time."""
    if not header or not header.startswith("sha256="):
        return False
    expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.encode())


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.answer(411, "Content-Length required\n")
            return
        if length < 0 or length > MAX_BODY:
            self.answer(413, "body too large\n")
            return
        # Keep the raw bytes: the signature covers the body exactly as sent,
        # so verify before any JSON parsing (and never re-serialise).
        body = self.rfile.read(length)
        prefix = PLATFORM + "-Webhook-"
        # During a secret rotation a delivery is also signed with the
        # previous secret, in -Signature-Previous: accept either.
        if not (signature_matches(self.headers.get(prefix + "Signature"), body)
                or signature_matches(self.headers.get(prefix + "Signature-Previous"), body)):
            self.answer(401, "invalid signature\n")
            return
        try:
            event = json.loads(body)
        except ValueError:
            self.answer(400, "body is not JSON\n")
            return
        # Deliveries arrive at least once: deduplicate on event["id"] (also
        # in the <Platform>-Webhook-Id header) before acting.
        print("verified %s %s (delivery %s, attempt %s)" % (
            event.get("type"), event.get("id"),
            self.headers.get(prefix + "Delivery"), self.headers.get(prefix + "Attempt")), flush=True)
        self.answer(200, "ok\n")

    def answer(self, status, text):
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        pass  # one line per verified delivery is enough


def main():
    if not SECRET:
        # Without a secret anyone could sign: refuse to start.
        print("receiver.py: WEBHOOK_SECRET is not set", file=sys.stderr)
        return 1
    server = ThreadingHTTPServer((HOST, PORT), Receiver)
    print("listening on http://%s:%d" % (HOST, PORT), file=sys.stderr, flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
