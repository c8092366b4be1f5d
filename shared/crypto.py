"""Field encryption for personal data (AES-256-GCM with key rotation) and keyed hashes for matching.

Rotation (docs/operations.md, "PII key rotation"): a new encryption key goes first in `PII_KEYS` and the
old ones stay after it, so every ciphertext stays readable while `python -m cli rotate-pii` re-encrypts
under the newest. The matching-hash key rotates with `PII_HASH_KEY_PREVIOUS`: while it is set, writers
hash under `PII_HASH_KEY` and every matcher looks for either hash (`phone_hashes`).
"""

import base64
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.settings import get_settings

NONCE_BYTES = 12
_FINGERPRINT_INPUT = b"minqing:pii-hash-key-fingerprint"


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

    @property
    def current_id(self) -> int:
        """The id of the key new ciphertexts are written under (the first configured)."""
        return self._current_id

    @property
    def key_ids(self) -> list[int]:
        return sorted(self._keys)

    @staticmethod
    def key_id_of(blob: bytes) -> int:
        """The id of the key a ciphertext was written under (its first byte)."""
        return blob[0]

    def is_current(self, blob: bytes) -> bool:
        return bool(blob) and blob[0] == self._current_id

    def encrypt(self, plaintext: str, *, context: bytes = b"") -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return bytes([self._current_id]) + nonce + self._current.encrypt(nonce, plaintext.encode(), context)

    def decrypt(self, blob: bytes, *, context: bytes = b"") -> str:
        key = self._keys.get(blob[0])
        if key is None:
            raise ValueError(f"unknown encryption key id {blob[0]}")
        nonce, ciphertext = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
        return key.decrypt(nonce, ciphertext, context).decode()

    def reencrypt(self, blob: bytes, *, context: bytes = b"") -> bytes:
        """The same plaintext under the current key; a ciphertext already under it is returned unchanged."""
        if self.is_current(blob):
            return blob
        return self.encrypt(self.decrypt(blob, context=context), context=context)


def parse_keys(spec: str) -> list[tuple[int, bytes]]:
    """`"2:<base64 32 bytes>,1:<base64 32 bytes>"` → [(2, key), (1, key)], newest first."""
    keys = []
    for part in spec.split(","):
        kid, _, b64 = part.strip().partition(":")
        key = base64.b64decode(b64)
        if not kid.isdigit() or not 0 < int(kid) < 256 or len(key) != 32:
            raise ValueError("each PII key is `<id 1-255>:<base64 of 32 bytes>`")
        keys.append((int(kid), key))
    if len({kid for kid, _ in keys}) != len(keys):
        raise ValueError("each PII key id may appear once")
    return keys


@lru_cache(maxsize=4)
def _cipher_for(spec: str) -> FieldCipher:
    return FieldCipher(parse_keys(spec))


def field_cipher() -> FieldCipher:
    """The cipher of the configured `PII_KEYS` (built once per key list)."""
    return _cipher_for(get_settings().pii_keys.get_secret_value())


def _hmac_hex(key: str, value: str) -> str:
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()


def _hash_keys() -> list[str]:
    """The matching-hash keys in force, newest first: `PII_HASH_KEY`, then `PII_HASH_KEY_PREVIOUS` if set."""
    settings = get_settings()
    current = settings.pii_hash_key.get_secret_value()
    previous = settings.pii_hash_key_previous.get_secret_value().strip() if settings.pii_hash_key_previous else ""
    return [current] if not previous or previous == current else [current, previous]


def keyed_hash(value: str) -> str:
    """HMAC-SHA256 under the matching key: equal inputs match, without storing them in clear."""
    return _hmac_hex(get_settings().pii_hash_key.get_secret_value(), value)


def phone_hashes(phone: str) -> list[str]:
    """Every hash a stored phone may carry, the one to write first: one while no hash key rotates, and
    during a rotation (`PII_HASH_KEY_PREVIOUS` set) also the hash under the previous key. Matchers look for
    any of them (`IN (...)`); writers store the first."""
    return [_hmac_hex(key, phone) for key in _hash_keys()]


def hash_rotation_active() -> bool:
    """Whether a previous matching-hash key is configured (stored hashes may be under either)."""
    return len(_hash_keys()) > 1


def hash_key_fingerprint() -> str:
    """A short public fingerprint of the current matching-hash key: lets processes check they agree on it."""
    return _hmac_hex(get_settings().pii_hash_key.get_secret_value(), _FINGERPRINT_INPUT.decode())[:16]
