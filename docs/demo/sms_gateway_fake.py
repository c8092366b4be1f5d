"""A fake SMS gateway for docs/demo/evidence-and-reach.sh: a real HTTP server on 127.0.0.1, standard library only.

It speaks the adapter's contract (docs/messages.md, "The SMS gateway adapter"):

* ``POST /sms/send``: what Minqing's sender posts, ``{message_id, to, sign_name, text}`` signed with
  ``X-Minqing-Sms-Timestamp`` / ``X-Minqing-Sms-Signature`` (``sha256=`` + hex HMAC-SHA256 of
  ``"<timestamp>." + body`` under the shared secret). A good signature is answered
  ``200 {"code": "OK", "message": "accepted", "provider_message_id": "fake-<n>"}`` and the message is kept once
  per ``Idempotency-Key`` (as a real gateway must); a bad or stale one ``401 {"code": "SIGNATURE_INVALID"}``.
* ``GET /sms/sent[?to=<phone>]``: the messages accepted so far (what reached the phones), oldest first.
* ``POST /sms/inbound`` ``{"from": "<phone>", "text": "1"}``: a citizen's SMS reaching the gateway, passed on
  as the gateway does, signed, to ``--reply-to`` (``POST /v1/messages/sms/replies``); answers
  ``{"status": <Minqing's HTTP status>, "sent": <the body posted>, "answer": <Minqing's JSON answer>}``.

    python docs/demo/sms_gateway_fake.py --port 8025 --secret demo-sms-gateway-secret \
        --reply-to http://127.0.0.1:8000/v1/messages/sms/replies
"""

import argparse
import hashlib
import hmac
import itertools
import json
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOLERANCE_SECONDS = 300


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def signed(secret: str, timestamp: str | None, body: bytes, header: str | None) -> bool:
    if not timestamp or not header or not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body).encode(), header.strip().encode())


class Gateway:
    def __init__(self, secret: str, reply_to: str) -> None:
        self.secret = secret
        self.reply_to = reply_to
        self.sent: dict[str, dict[str, Any]] = {}  # by Idempotency-Key, in the order first accepted
        self.lock = threading.Lock()
        self.numbers = itertools.count(1)

    def accept(self, key: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            if key not in self.sent:
                self.sent[key] = {
                    "provider_message_id": f"fake-{next(self.numbers)}",
                    "accepted_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    **body,
                }
            return self.sent[key]

    def relay(self, phone: str, text: str) -> dict[str, Any]:
        """Pass a citizen's SMS on to Minqing, signed, the way a gateway does."""
        with self.lock:
            message_id = f"gw-{int(time.time())}-{next(self.numbers):06d}"
        body = {
            "message_id": message_id,
            "from": phone,
            "text": text,
            "received_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        raw = json.dumps(body, ensure_ascii=False).encode()
        stamp = str(int(time.time()))
        request = urllib.request.Request(
            self.reply_to,
            data=raw,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "X-Minqing-Sms-Timestamp": stamp,
                "X-Minqing-Sms-Signature": sign(self.secret, stamp, raw),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, answer = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, answer = exc.code, exc.read()
        try:
            parsed: Any = json.loads(answer)
        except ValueError:
            parsed = answer.decode(errors="replace")
        return {"status": status, "sent": body, "answer": parsed}


def handler(gateway: Gateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, status: int, payload: Any) -> None:
            data = json.dumps(payload, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/healthz":
                return self._answer(200, {"ok": True})
            if url.path != "/sms/sent":
                return self._answer(404, {"code": "NOT_FOUND"})
            to = parse_qs(url.query).get("to", [None])[0]
            with gateway.lock:
                items = [m for m in gateway.sent.values() if to is None or m["to"] == to]
            return self._answer(200, items)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            path = urlsplit(self.path).path
            try:
                body = json.loads(raw)
            except ValueError:
                return self._answer(400, {"code": "BAD_REQUEST", "message": "not JSON"})
            if path == "/sms/inbound":
                return self._answer(200, gateway.relay(str(body["from"]), str(body["text"])))
            if path != "/sms/send":
                return self._answer(404, {"code": "NOT_FOUND"})
            timestamp = self.headers.get("X-Minqing-Sms-Timestamp")
            if not signed(gateway.secret, timestamp, raw, self.headers.get("X-Minqing-Sms-Signature")):
                print(f"refused (signature) {body.get('message_id')}", flush=True)
                return self._answer(401, {"code": "SIGNATURE_INVALID", "message": "bad or stale signature"})
            key = self.headers.get("Idempotency-Key") or str(body.get("message_id"))
            kept = gateway.accept(key, body)
            print(f"sent {key} to {body.get('to')}: {body.get('text')}", flush=True)
            return self._answer(
                200, {"code": "OK", "message": "accepted", "provider_message_id": kept["provider_message_id"]}
            )

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--secret", required=True, help="SMS_GATEWAY_SECRET, shared with Minqing")
    parser.add_argument("--reply-to", default="http://127.0.0.1:8000/v1/messages/sms/replies")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler(Gateway(args.secret, args.reply_to)))
    server.daemon_threads = True
    print(f"fake SMS gateway on http://127.0.0.1:{args.port}/sms/send", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        sys.exit(0)


if __name__ == "__main__":
    main()
