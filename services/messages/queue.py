"""Queueing messages: called by the lifecycle (services/lifecycle/changes.py) right after a batch of changes
is written, in the same transaction, so a committed change is never without its message and a rolled
back one never has one.

Per message, one medium: the `citizen.notify` webhook when the integration that submitted the request
subscribes to it (its own app or hotline tells the citizen), else an SMS when the request has a phone
and a gateway is configured. Anonymous requesters (保密) are never messaged. Cheap on the routing hot
path: nothing is queried when no change of the batch tells a citizen anything; otherwise one query for
the subscriptions (only when an integration submitted one of the requests) and one insert for the whole
batch (a resolution sent by SMS adds its invitation: the phone's open reply codes, an insert, a read).
"""

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.messages.events import Change, dedupe_key, message_event, variables
from services.messages.gateway import gateway_config
from services.models import ApiKey, Request, RequestEvent, WebhookSubscription
from services.models.messages import CitizenMessage, FeedbackInvitation
from shared.auth import key_id_of
from shared.crypto import field_cipher
from shared.settings import get_settings

NOTIFY_EVENT = "citizen.notify"
TOKEN_CONTEXT = b"feedback-token"
REPLY_CODE_DIGITS = 4


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """16 URL-safe characters (96 random bits): short enough for an SMS link."""
    return secrets.token_urlsafe(12)


def new_reply_code(taken: set[str]) -> str:
    """Four digits no other open invitation of the same phone uses."""
    while True:
        code = f"{secrets.randbelow(10**REPLY_CODE_DIGITS):0{REPLY_CODE_DIGITS}d}"
        if code not in taken:
            taken.add(code)
            return code


@dataclass(slots=True)
class _Owed:
    request: Request
    change: Change
    event: str
    medium: str = ""


async def _notify_keys(session: AsyncSession, key_ids: set[int]) -> set[int]:
    """The API keys among `key_ids` with an active `citizen.notify` subscription."""
    if not key_ids:
        return set()
    rows = await session.scalars(
        select(WebhookSubscription.api_key_id)
        .join(ApiKey, ApiKey.id == WebhookSubscription.api_key_id)
        .where(
            WebhookSubscription.api_key_id.in_(sorted(key_ids)),
            WebhookSubscription.active.is_(True),
            ApiKey.revoked_at.is_(None),
            WebhookSubscription.event_types.contains([NOTIFY_EVENT]),
        )
    )
    return set(rows)


def _change(request: Request, event: RequestEvent) -> Change:
    data = event.data or {}
    return Change(
        request_id=request.id,
        kind=event.kind,
        public=bool(event.public),
        note=event.note,
        data=data,
        version=int(data.get("version") or request.version),
        resolution_no=request.resolution_no,
        reopen_count=request.reopen_count,
    )


async def queue_messages(session: AsyncSession, changed: Iterable[tuple[Request, RequestEvent]]) -> int:
    """Write the messages the recorded changes owe citizens; how many were new."""
    owed: list[_Owed] = []
    for request, event in changed:
        if request.anonymous:
            continue  # 保密: never messaged, by any medium
        change = _change(request, event)
        kind = message_event(change)
        if kind is not None:
            owed.append(_Owed(request, change, kind))
    if not owed:
        return 0
    sms = gateway_config().enabled
    notify = await _notify_keys(session, {k for o in owed if (k := key_id_of(o.request.created_by)) is not None})
    for item in owed:
        key_id = key_id_of(item.request.created_by)
        if key_id is not None and key_id in notify:
            item.medium = "webhook"
        elif sms and item.request.citizen_phone_enc is not None and item.request.citizen_phone_hash:
            item.medium = "sms"
    owed = [o for o in owed if o.medium]
    if not owed:
        return 0
    settings = get_settings()
    now = datetime.now(UTC)
    invitations = await _invite(session, [o for o in owed if o.medium == "sms" and o.event == "resolved"])
    rows: list[dict[str, Any]] = []
    for item in owed:
        request = item.request
        rows.append(
            {
                "request_id": request.id,
                "event": item.event,
                "medium": item.medium,
                "dedupe_key": dedupe_key(item.event, item.change),
                "phone_hash": request.citizen_phone_hash if item.medium == "sms" else None,
                "variables": variables(
                    item.event,
                    item.change,
                    tracking_no=request.tracking_no,
                    channel=request.channel,
                    public_reply=request.public_reply,
                    outcome=request.outcome,
                    resolve_by=request.resolve_by,
                    timezone=settings.timezone,
                ),
                "invitation_id": invitations.get((request.id, item.change.resolution_no))
                if item.event == "resolved"
                else None,
                "next_attempt_at": now,
                "give_up_at": now + timedelta(hours=settings.messages_retry_hours),
            }
        )
    written = await session.execute(
        pg_insert(CitizenMessage)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(CitizenMessage.id)
    )
    return len(written.all())


async def _invite(session: AsyncSession, owed: list[_Owed]) -> dict[tuple[int, int], int]:
    """One feedback invitation per resolution sent by SMS: {(request id, resolution no): invitation id}."""
    if not owed:
        return {}
    phones = sorted({o.request.citizen_phone_hash for o in owed if o.request.citizen_phone_hash})
    taken: dict[str, set[str]] = {}
    for phone_hash, code in await session.execute(
        select(FeedbackInvitation.phone_hash, FeedbackInvitation.reply_code).where(
            FeedbackInvitation.phone_hash.in_(phones), FeedbackInvitation.used_at.is_(None)
        )
    ):
        taken.setdefault(phone_hash, set()).add(code)
    cipher = field_cipher()
    rows = []
    for item in owed:
        phone_hash = item.request.citizen_phone_hash or ""
        token = new_token()
        rows.append(
            {
                "request_id": item.request.id,
                "resolution_no": item.change.resolution_no,
                "token_hash": token_hash(token),
                "token_enc": cipher.encrypt(token, context=TOKEN_CONTEXT),
                "reply_code": new_reply_code(taken.setdefault(phone_hash, set())),
                "phone_hash": phone_hash,
            }
        )
    await session.execute(
        pg_insert(FeedbackInvitation)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["request_id", "resolution_no"])
    )
    found = await session.execute(
        select(FeedbackInvitation.id, FeedbackInvitation.request_id, FeedbackInvitation.resolution_no).where(
            FeedbackInvitation.request_id.in_(sorted({o.request.id for o in owed}))
        )
    )
    return {(r.request_id, r.resolution_no): r.id for r in found}
