"""Keys and data for the PII key rotation tests: an old and a new encryption key and hash key, and a
helper that switches a test's settings between them (the cipher follows `PII_KEYS` at once)."""

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from services.messages.queue import TOKEN_CONTEXT, token_hash
from services.models import Request
from services.models.messages import CitizenMessage, FeedbackInvitation, SmsReply
from shared.crypto import field_cipher, keyed_hash
from tests.factories import make_request
from tests.settings import set_setting

OLD_KEY = "1:" + base64.b64encode(b"o" * 32).decode()
NEW_KEY = "2:" + base64.b64encode(b"n" * 32).decode()
OLD_HASH_KEY = "old-matching-hash-key-0123456789"
NEW_HASH_KEY = "new-matching-hash-key-9876543210"


def use_old_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before the rotation: only the old key, the old hash key."""
    set_setting(monkeypatch, "pii_keys", SecretStr(OLD_KEY))
    set_setting(monkeypatch, "pii_hash_key", SecretStr(OLD_HASH_KEY))
    set_setting(monkeypatch, "pii_hash_key_previous", None)


def use_rotating_keys(monkeypatch: pytest.MonkeyPatch, *, hashes: bool = True) -> None:
    """During the rotation: the new key first, the old after it; the new hash key, the old as previous."""
    set_setting(monkeypatch, "pii_keys", SecretStr(f"{NEW_KEY},{OLD_KEY}"))
    if hashes:
        set_setting(monkeypatch, "pii_hash_key", SecretStr(NEW_HASH_KEY))
        set_setting(monkeypatch, "pii_hash_key_previous", SecretStr(OLD_HASH_KEY))


def use_new_keys_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """After the rotation: the old keys removed."""
    set_setting(monkeypatch, "pii_keys", SecretStr(NEW_KEY))
    set_setting(monkeypatch, "pii_hash_key", SecretStr(NEW_HASH_KEY))
    set_setting(monkeypatch, "pii_hash_key_previous", None)


def phone_of(n: int) -> str:
    return f"139{n:08d}"


async def make_citizen_request(session: AsyncSession, n: int, **fields: Any) -> Request:
    """A request with a citizen (name and phone encrypted, phone hashed) under the keys in force."""
    cipher = field_cipher()
    return await make_request(
        session,
        citizen_name_enc=cipher.encrypt(f"市民{n}"),
        citizen_phone_enc=cipher.encrypt(phone_of(n)),
        citizen_phone_hash=keyed_hash(phone_of(n)),
        **fields,
    )


async def make_message_rows(session: AsyncSession, request: Request, n: int) -> None:
    """An invitation, an SMS message and an SMS reply copying the request's phone hash (keys in force)."""
    phone_hash = keyed_hash(phone_of(n))
    token = f"token-{n}-{request.id}"
    invitation = FeedbackInvitation(
        request_id=request.id,
        resolution_no=1,
        token_hash=token_hash(token),
        token_enc=field_cipher().encrypt(token, context=TOKEN_CONTEXT),
        reply_code=f"{n % 10000:04d}",
        phone_hash=phone_hash,
    )
    session.add(invitation)
    await session.flush()
    session.add(
        CitizenMessage(
            request_id=request.id,
            event="received",
            medium="sms",
            dedupe_key=f"received:{request.id}",
            phone_hash=phone_hash,
            give_up_at=datetime.now(UTC) + timedelta(hours=24),
            state="sent",
            sent_at=datetime.now(UTC),
        )
    )
    session.add(
        SmsReply(
            gateway_message_id=f"gw-{request.id}",
            phone_hash=phone_hash,
            answer="satisfied",
            invitation_id=invitation.id,
            request_id=request.id,
            outcome="recorded",
            received_at=datetime.now(UTC),
        )
    )
    await session.flush()
