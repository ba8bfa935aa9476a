"""An independent Standard Webhooks implementation, from the published
algorithm (https://www.standardwebhooks.com), standard library only.

    python3 standard_webhooks.py sign   SECRET ID TIMESTAMP      < body
    python3 standard_webhooks.py verify SECRET ID TIMESTAMP SIGS < body

SECRET is "whsec_" and base64. sign prints "v1,<base64>"; verify prints
"valid" and exits 0, or prints why not and exits 1. verify checks the
timestamp against this machine's clock with a 5 minute tolerance.
"""
import base64
import hashlib
import hmac
import sys
import time

TOLERANCE = 5 * 60


def key(secret):
    if secret.startswith("whsec_"):
        secret = secret[len("whsec_"):]
    return base64.b64decode(secret)


def sign(secret, msg_id, timestamp, body):
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    digest = hmac.new(key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret, msg_id, timestamp, sigs, body):
    if abs(time.time() - int(timestamp)) > TOLERANCE:
        return "timestamp outside tolerance"
    want = sign(secret, msg_id, timestamp, body).split(",", 1)[1]
    for entry in sigs.split(" "):
        version, _, sig = entry.partition(",")
        if version == "v1" and hmac.compare_digest(sig, want):
            return None
    return "no matching signature"


def main():
    body = sys.stdin.buffer.read()
    if sys.argv[1] == "sign":
        print(sign(sys.argv[2], sys.argv[3], sys.argv[4], body))
        return 0
    problem = verify(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], body)
    print(problem or "valid")
    return 1 if problem else 0


if __name__ == "__main__":
    sys.exit(main())
