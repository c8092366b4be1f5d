"""The bytes a webhook carries and their signatures.

The Standard Webhooks way (https://www.standardwebhooks.com): `webhook-id` (the event's id, the same on
every retry: receivers drop what they have seen), `webhook-timestamp` (Unix seconds when this attempt was
sent) and `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`. Receivers check the
signature and reject a timestamp more than 5 minutes away from their clock, so a captured delivery cannot
be replayed later (see `verify_standard`). The HMAC key is the subscription's secret as UTF-8 bytes, which
the Standard Webhooks libraries take as `whsec_` + its base64 (`standard_secret`).

Deprecated, sent beside them until the end of 2027: `X-Minqing-Signature: sha256=<hex HMAC-SHA256 of the
body>` (no timestamp: it cannot tell a replay), `X-Minqing-Event`, `X-Minqing-Delivery`.
"""

import base64
import hashlib
import hmac
from typing import Any

import orjson

SIGNATURE_HEADER = "X-Minqing-Signature"
EVENT_HEADER = "X-Minqing-Event"
DELIVERY_HEADER = "X-Minqing-Delivery"
SIGNATURE_SCHEME = "sha256="
# Standard Webhooks.
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
STANDARD_SIGNATURE_HEADER = "webhook-signature"
TOLERANCE_SECONDS = 300

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


def standard_secret(secret: str) -> str:
    """The secret as the Standard Webhooks libraries take it: `whsec_` + base64 of its bytes."""
    return "whsec_" + base64.b64encode(secret.encode()).decode()


def sign_standard(message_id: str, timestamp: int, body: bytes, secret: str) -> str:
    """`webhook-signature`'s value: `v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest()).decode()


def verify_standard(
    body: bytes, secret: str, headers: dict[str, str], now: float, tolerance: int = TOLERANCE_SECONDS
) -> bool:
    """What a receiver does: a timestamp within `tolerance` of `now` and one of the (space-separated)
    `v1,` signatures matching, compared in constant time."""
    lowered = {name.lower(): value for name, value in headers.items()}
    message_id, raw_timestamp = lowered.get(ID_HEADER), lowered.get(TIMESTAMP_HEADER, "")
    if not message_id or not raw_timestamp.isdigit() or abs(now - int(raw_timestamp)) > tolerance:
        return False
    expected = sign_standard(message_id, int(raw_timestamp), body, secret).encode()
    return any(
        hmac.compare_digest(expected, candidate.encode())
        for candidate in lowered.get(STANDARD_SIGNATURE_HEADER, "").split()
    )
