"""A fake SMS gateway: a real HTTP server on 127.0.0.1 (a free port, its own thread) speaking the adapter's
contract (services/messages/gateway.py). It checks each request's signature, records every call, keeps
the messages it accepted once per `Idempotency-Key` (as a real gateway must), and answers by script:
a provider error code, an HTTP error, or a hang longer than the sender's timeout."""

import contextlib
import json
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from services.messages.gateway import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify

SECRET = "gateway-test-secret-0123456789abcdef"


@dataclass(frozen=True)
class Behaviour:
    """One answer: HTTP `status` with `{"code": code}` after `delay` seconds (`code` None: a body that is no JSON)."""

    status: int = 200
    code: str | None = "OK"
    delay: float = 0.0


OK = Behaviour()
HANG = Behaviour(delay=2.0)


@dataclass(frozen=True)
class Call:
    """One POST the gateway got: its JSON body, headers (lower case), and whether the signature held."""

    body: dict[str, Any]
    headers: dict[str, str]
    signed: bool


class _Server(ThreadingHTTPServer):
    request_queue_size = 128
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # the sender hangs up on a hang: that is the point
            super().handle_error(request, client_address)


@dataclass
class SmsGatewayFake:
    secret: str = SECRET
    script: list[Behaviour] = field(default_factory=list)  # answers in order; then `default`
    default: Behaviour = OK
    calls: list[Call] = field(default_factory=list)
    delivered: dict[str, Call] = field(default_factory=dict)  # by Idempotency-Key: what reached a phone
    port: int = 0
    _server: _Server | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/sms/send"

    def texts_to(self, phone: str) -> list[str]:
        """The texts delivered to `phone`, in the order they were first accepted."""
        return [c.body["text"] for c in self.delivered.values() if c.body["to"] == phone]

    def _next(self) -> Behaviour:
        with self._lock:
            return self.script.pop(0) if self.script else self.default

    def start(self) -> "SmsGatewayFake":
        server = _Server(("127.0.0.1", 0), _handler(self))
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "SmsGatewayFake":
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


def _handler(gateway: SmsGatewayFake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            signed = verify(
                gateway.secret, headers.get(TIMESTAMP_HEADER.lower()), raw, headers.get(SIGNATURE_HEADER.lower())
            )
            call = Call(json.loads(raw), headers, signed)
            gateway.calls.append(call)
            behaviour = gateway._next()
            time.sleep(behaviour.delay)
            if not signed:
                behaviour = Behaviour(401, "SIGNATURE_INVALID")
            answer: dict[str, Any] = {"code": behaviour.code, "message": "fake"}
            if behaviour.status == 200 and behaviour.code == "OK":
                key = headers.get("idempotency-key", "")
                with gateway._lock:
                    gateway.delivered.setdefault(key, call)
                answer["provider_message_id"] = f"fake-{key}"
            payload = b"<html>busy</html>" if behaviour.code is None else json.dumps(answer).encode()
            with contextlib.suppress(OSError):
                self.send_response(behaviour.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def signed_reply(
    body: dict[str, Any], secret: str = SECRET, *, timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """A reply as the gateway would POST it to `/v1/messages/sms/replies`: the bytes and the signed headers."""
    raw = json.dumps(body, ensure_ascii=False).encode()
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    return raw, {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: sign(secret, stamp, raw),
    }


def use_gateway(monkeypatch: Any, gateway: SmsGatewayFake, *, timeout: float = 0.5) -> None:
    """Point the sender at `gateway` for one test (URL, secret, a short timeout)."""
    from pydantic import SecretStr

    from tests.settings import set_setting

    set_setting(monkeypatch, "sms_gateway_url", gateway.url)
    set_setting(monkeypatch, "sms_gateway_secret", SecretStr(gateway.secret))
    set_setting(monkeypatch, "sms_gateway_timeout_seconds", timeout)
