"""The bytes a webhook carries and their signature: `X-Minqing-Signature: sha256=<hex HMAC-SHA256>`.

Receivers verify by computing the HMAC of the exact body bytes they received with the secret
they were given when they subscribed, and comparing in constant time (see `verify`).
"""

import hashlib
import hmac
from typing import Any

import orjson

SIGNATURE_HEADER = "X-Minqing-Signature"
EVENT_HEADER = "X-Minqing-Event"
DELIVERY_HEADER = "X-Minqing-Delivery"
SIGNATURE_SCHEME = "sha256="

# The envelope's own keys come first on the wire, in this order; the event's fields follow.
ENVELOPE_KEYS = ("id", "type", "occurred_at")


def encode_body(body: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON, envelope keys first; the same stored body always gives the same bytes."""
    ordered = {key: body[key] for key in ENVELOPE_KEYS if key in body}
    ordered.update((key, value) for key, value in body.items() if key not in ordered)
    return orjson.dumps(ordered)


def sign(body: bytes, secret: str) -> str:
    """The signature header's value for `body`: `sha256=` and the hex HMAC-SHA256 under `secret`."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_SCHEME}{digest}"


def verify(body: bytes, secret: str, header: str | None) -> bool:
    """Whether `header` is the signature of `body` under `secret` (constant-time comparison)."""
    if not header or not header.startswith(SIGNATURE_SCHEME):
        return False
    return hmac.compare_digest(sign(body, secret).encode(), header.strip().encode())
