"""Field encryption for personal data (AES-256-GCM with key rotation) and keyed hashes for matching."""

import base64
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.settings import get_settings

NONCE_BYTES = 12


class FieldCipher:
    """Encrypts with the first key; decrypts with whichever key id the ciphertext names.

    Layout of a ciphertext: 1-byte key id, 12-byte nonce, AES-GCM ciphertext and tag.
    Rotating: put the new key first, keep the old ones after it until data is re-encrypted.
    """

    def __init__(self, keys: list[tuple[int, bytes]]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is needed")
        self._current_id, current = keys[0]
        self._keys = {kid: AESGCM(key) for kid, key in keys}
        self._current = AESGCM(current)

    def encrypt(self, plaintext: str, *, context: bytes = b"") -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return bytes([self._current_id]) + nonce + self._current.encrypt(nonce, plaintext.encode(), context)

    def decrypt(self, blob: bytes, *, context: bytes = b"") -> str:
        key = self._keys.get(blob[0])
        if key is None:
            raise ValueError(f"unknown encryption key id {blob[0]}")
        nonce, ciphertext = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
        return key.decrypt(nonce, ciphertext, context).decode()


def parse_keys(spec: str) -> list[tuple[int, bytes]]:
    """`"2:<base64 32 bytes>,1:<base64 32 bytes>"` → [(2, key), (1, key)], newest first."""
    keys = []
    for part in spec.split(","):
        kid, _, b64 = part.strip().partition(":")
        key = base64.b64decode(b64)
        if not kid.isdigit() or not 0 < int(kid) < 256 or len(key) != 32:
            raise ValueError("each PII key is `<id 1-255>:<base64 of 32 bytes>`")
        keys.append((int(kid), key))
    return keys


@lru_cache
def field_cipher() -> FieldCipher:
    return FieldCipher(parse_keys(get_settings().pii_keys.get_secret_value()))


def keyed_hash(value: str) -> str:
    """HMAC-SHA256 under the matching key: equal inputs match, without storing them in clear."""
    key = get_settings().pii_hash_key.get_secret_value().encode()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
