"""While the matching-hash key rotates (`PII_HASH_KEY_PREVIOUS` set, stored hashes not yet recomputed),
every matcher finds the phone under either hash: duplicate detection at intake, the phone lookup, an SMS
reply's invitation, and the per-phone SMS limit, which counts a phone's messages under both together."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from services.messages import replies
from services.messages.sender import send_due
from services.models import Request
from services.models.messages import CitizenMessage
from shared.crypto import keyed_hash, phone_hashes
from shared.db import unit_of_work
from tests.factories import at_grid, bearer
from tests.kit import create_request, drain
from tests.services.intake.pii_kit import (
    NEW_HASH_KEY,
    OLD_HASH_KEY,
    make_citizen_request,
    make_message_rows,
    phone_of,
    use_old_keys,
    use_rotating_keys,
)
from tests.services.messages.gateway_fake import SmsGatewayFake, use_gateway
from tests.settings import set_setting

PHONE = "13800001234"
TEXT = "小区东门的下水道堵了好几天污水漫到路上"


async def test_duplicates_and_phone_lookups_match_the_old_hash_during_the_change(
    session: Any, intake_client: Any, setup: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    use_old_keys(monkeypatch)
    citizen = {"name": "李四", "phone": PHONE}
    first = await create_request(intake_client, setup["key"], at_grid(0, description=TEXT, citizen=citizen))
    use_rotating_keys(monkeypatch)  # the new hash key, the old one as previous: nothing recomputed yet
    stored = await session.scalar(select(Request.citizen_phone_hash).where(Request.id == first["id"]))
    assert stored is not None and stored != keyed_hash(PHONE)  # still the old key's

    # Another grid (no nearby duplicate): only the phone and the words make it a duplicate.
    again = await create_request(intake_client, setup["key"], at_grid(2, description=TEXT, citizen=citizen))
    assert again["duplicate_of"]["id"] == first["id"]
    newest = await session.scalar(select(Request.citizen_phone_hash).where(Request.id == again["id"]))
    assert newest == keyed_hash(PHONE)  # written under the new key
    check = await intake_client.post(
        "/v1/requests/duplicate-check",
        json=at_grid(1, description=TEXT, citizen=citizen),
        headers=bearer(setup["dispatcher"]),
    )
    assert check.status_code == 200, check.text  # the check before submitting matches either hash too
    assert check.json()["duplicate_of"]["id"] == first["id"]

    found = await intake_client.post("/v1/search/by-phone", json={"phone": PHONE}, headers=bearer(setup["dispatcher"]))
    assert found.status_code == 200, found.text
    assert [item["id"] for item in found.json()["items"]] == [again["id"], first["id"]]


async def test_an_sms_reply_finds_an_invitation_stored_under_the_old_hash(
    session: Any, setup: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    use_old_keys(monkeypatch)
    request = await make_citizen_request(session, 7, status="resolved", resolution_no=1)
    await make_message_rows(session, request, 7)
    await session.commit()
    use_rotating_keys(monkeypatch)
    parsed = replies.parse_reply("1")
    match = await replies.find_invitation(session, phone_hashes(phone_of(7)), parsed)
    assert match is not None and match.request_id == request.id
    assert await replies.find_invitation(session, [keyed_hash(phone_of(7))], parsed) is None  # the new hash alone


async def test_the_per_phone_sms_limit_counts_the_old_and_the_new_hash_together(
    session: Any, intake_client: Any, setup: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    set_setting(monkeypatch, "sms_per_phone_limit", 2)
    set_setting(monkeypatch, "sms_per_phone_window_seconds", 3600)
    use_old_keys(monkeypatch)
    with SmsGatewayFake() as gateway:
        use_gateway(monkeypatch, gateway)
        for n in range(2):
            await create_request(intake_client, setup["key"], at_grid(n, description=f"第{n}件：井盖缺失"))
        await drain()
        now = datetime.now(UTC)
        assert (await send_due(unit_of_work, now=now)).sent == 2
        use_rotating_keys(monkeypatch)
        await create_request(intake_client, setup["key"], at_grid(2, description="第3件：井盖缺失"))
        await drain()
        hashes = {m.phone_hash for m in await session.scalars(select(CitizenMessage))}
        assert hashes == set(phone_hashes(PHONE))  # two sent under the old hash, one waiting under the new
        stats = await send_due(unit_of_work, now=now + timedelta(minutes=1))
        assert (stats.sent, stats.deferred) == (0, 1)
        assert len(gateway.delivered) == 2
        later = await send_due(unit_of_work, now=now + timedelta(minutes=61))
        assert later.sent == 1


@pytest.mark.pure
@settings(max_examples=60, deadline=None)
@given(phone=st.text(alphabet="0123456789+-", min_size=5, max_size=20), rotating=st.booleans())
def test_phone_hashes_write_the_new_hash_first_and_match_the_old_one_only_while_it_is_set(
    phone: str, rotating: bool
) -> None:
    from pydantic import SecretStr

    from shared.settings import get_settings

    settings_ = get_settings()
    saved = settings_.pii_hash_key, settings_.pii_hash_key_previous
    try:
        settings_.pii_hash_key = SecretStr(OLD_HASH_KEY)
        old = keyed_hash(phone)
        settings_.pii_hash_key = SecretStr(NEW_HASH_KEY)
        settings_.pii_hash_key_previous = SecretStr(OLD_HASH_KEY) if rotating else None
        hashes = phone_hashes(phone)
        assert hashes[0] == keyed_hash(phone) != old
        assert hashes == ([keyed_hash(phone), old] if rotating else [keyed_hash(phone)])
        settings_.pii_hash_key_previous = SecretStr(NEW_HASH_KEY)  # the same key twice: one hash
        assert phone_hashes(phone) == [keyed_hash(phone)]
    finally:
        settings_.pii_hash_key, settings_.pii_hash_key_previous = saved
