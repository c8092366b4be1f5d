"""Signed download links: an HMAC of the attachment, the variant and the expiry under the app's secret key.

A link is a short-lived bearer credential, made only for a caller who may read the request (the scope check
happens when the link is made, like a read); the download endpoint checks the signature and the expiry and
nothing else. The key is derived from `SECRET_KEY` for this one purpose, so a link's signature can never
stand for a staff token's or the other way round. Pure functions, no I/O.
"""

import base64
import hashlib
import hmac
from typing import Literal

Variant = Literal["original", "thumbnail"]
VARIANTS: tuple[Variant, ...] = ("original", "thumbnail")
_PURPOSE = b"minqing attachment download links v1"


def link_key(secret_key: str) -> bytes:
    """The signing key of download links, derived from the app's secret key."""
    return hmac.new(secret_key.encode(), _PURPOSE, hashlib.sha256).digest()


def signature(key: bytes, attachment_id: int, variant: str, expires: int) -> str:
    """URL-safe base64 (no padding) of HMAC-SHA256 over `<id>:<variant>:<expires>`."""
    message = f"{attachment_id}:{variant}:{expires}".encode()
    return base64.urlsafe_b64encode(hmac.new(key, message, hashlib.sha256).digest()).rstrip(b"=").decode()


def is_valid(key: bytes, attachment_id: int, variant: str, expires: int, given: str, *, now: int) -> bool:
    """Whether `given` is the signature of this link and the link has not expired (compared in constant time)."""
    expected = signature(key, attachment_id, variant, expires)
    return now <= expires and hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def download_path(key: bytes, attachment_id: int, variant: Variant, expires: int) -> str:
    """The link's path and query, relative to the API's base URL."""
    sig = signature(key, attachment_id, variant, expires)
    return f"/v1/attachments/{attachment_id}/content?variant={variant}&expires={expires}&signature={sig}"
