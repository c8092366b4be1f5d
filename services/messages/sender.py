"""The sender: a sweep that sends due messages with retries, a per-phone limit, and nothing lost.

Like the webhook sweep (services/webhooks/service.py: `deliver_due`), in three steps so no row lock is
held while the gateway is slow: (1) one short transaction claims due messages (`FOR UPDATE SKIP LOCKED`),
hands the `citizen.notify` ones to the webhook deliveries (signed, retried for 24 h by the webhook sweep),
applies the per-phone limit to the SMS ones, counts their attempt and leases them; (2) the SMS are sent
with no transaction open; (3) one short transaction writes each outcome, only if the row is still at the
claimed attempt. A sweep that dies after (1) loses nothing: its claims come due again when the lease ends.

The phone is decrypted here, in `_send_sms`, and nowhere else on the way: the message rows hold only
its keyed hash, and the number lives in a local variable for the length of one gateway call. (While the
hash key rotates, `_phone_groups` also opens it, for its hashes alone: the limit counts a phone's messages
under the old and the new hash together.)
"""

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from cryptography.exceptions import InvalidTag
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.messages.gateway import GatewayConfig, GatewayResult, gateway_config, make_client, send_sms
from services.messages.queue import NOTIFY_EVENT, TOKEN_CONTEXT
from services.messages.templates import TemplateError, Templates, load_templates
from services.models import Request
from services.models.messages import CitizenMessage, FeedbackInvitation
from services.webhooks.service import emit
from shared.crypto import field_cipher, hash_rotation_active, phone_hashes
from shared.settings import get_settings

logger = logging.getLogger("minqing.messages")

BATCH_SIZE = 100
CONCURRENCY = 10
# Longer than a whole batch can take (BATCH_SIZE / CONCURRENCY waves of the gateway's timeout).
CLAIM_LEASE = timedelta(minutes=2)
# One claimer at a time (a transaction-scoped advisory lock): the per-phone counts it reads stay true.
CLAIM_LOCK = 0x4D51_4D53
REPLY_CHOICES = {"1": "satisfied", "2": "basically_satisfied", "3": "dissatisfied"}

Sessions = Callable[[], AbstractAsyncContextManager[AsyncSession]]


def message_ref(message_id: int) -> str:
    """The id the gateway and the integrations see (the gateway's idempotency key)."""
    return f"msg_{message_id}"


@dataclass(slots=True)
class SendStats:
    claimed: int = 0
    sent: int = 0
    notified: int = 0  # handed to the integration's citizen.notify webhook
    retried: int = 0
    failed: int = 0
    deferred: int = 0  # over the per-phone limit: due again when the window frees a slot
    superseded: int = 0

    def add(self, other: "SendStats") -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True, slots=True)
class SmsClaim:
    id: int
    attempt: int
    event: str
    channel: str
    variables: dict[str, Any]
    phone_enc: bytes
    give_up_at: datetime
    token_enc: bytes | None = None
    reply_code: str | None = None


def retry_delay(attempt: int, schedule: list[int], rand: Callable[[], float] = random.random) -> timedelta:
    """Wait after failed attempt number `attempt`: the schedule's entry (the last one repeating), minus up to 25 %."""
    steps = schedule or [60]
    base = steps[min(max(attempt, 1) - 1, len(steps) - 1)]
    return timedelta(seconds=base * (1 - 0.25 * rand()))


def feedback_link(token: str) -> str:
    return get_settings().messages_feedback_url.replace("{token}", token)


# ---- (1) claim ----------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Claimed:
    sms: list[SmsClaim] = field(default_factory=list)
    stats: SendStats = field(default_factory=SendStats)


def _notify_body(message: CitizenMessage, request: Any, text_: str) -> dict[str, Any]:
    feedback = None
    if message.event == "resolved":
        feedback = {
            "resolution_no": message.variables.get("resolution_no"),
            "url": f"/v1/track/{request.tracking_no}/feedback",
            "choices": list(REPLY_CHOICES.values()),
        }
    return {
        "message_id": message_ref(message.id),
        "request_id": request.id,
        "tracking_no": request.tracking_no,
        "external_id": request.external_id,
        "event": message.event,
        "channel": request.channel,
        "text": text_,
        "feedback": feedback,
    }


async def _phone_usage(
    session: AsyncSession, phone_hashes: set[str], now: datetime, window: timedelta
) -> dict[str, tuple[int, datetime | None]]:
    """{phone hash: (messages sent in the window or being sent now, the oldest send in the window)}."""
    if not phone_hashes:
        return {}
    since = now - window
    in_window = (CitizenMessage.state == "sent") & (CitizenMessage.sent_at > since)
    in_flight = (CitizenMessage.state == "pending") & (CitizenMessage.leased_until > now)
    rows = await session.execute(
        select(
            CitizenMessage.phone_hash,
            func.count().filter(in_window | in_flight),
            func.min(CitizenMessage.sent_at).filter(in_window),
        )
        .where(CitizenMessage.phone_hash.in_(sorted(phone_hashes)))
        .group_by(CitizenMessage.phone_hash)
    )
    return {str(phone): (int(used), oldest) for phone, used, oldest in rows.all()}


def _phone_groups(due: list[CitizenMessage], requests: dict[int, Any]) -> dict[int, tuple[str, ...]]:
    """Per SMS message, the hashes its phone's messages may be stored under, its own first: only its own, but
    while the matching-hash key rotates every hash of the phone (PII key rotation, docs/operations.md)."""
    cipher = field_cipher() if hash_rotation_active() else None
    groups: dict[int, tuple[str, ...]] = {}
    for message in due:
        if message.medium != "sms" or not message.phone_hash:
            continue
        hashes: tuple[str, ...] = (message.phone_hash,)
        phone_enc = requests[message.request_id].citizen_phone_enc
        if cipher is not None and phone_enc is not None:
            # Unreadable: counted by its own hash (the send fails on it later).
            with contextlib.suppress(ValueError, InvalidTag):
                hashes = tuple(dict.fromkeys((message.phone_hash, *phone_hashes(cipher.decrypt(phone_enc)))))
        groups[message.id] = hashes
    return groups


def _used(usage: dict[str, tuple[int, datetime | None]], hashes: tuple[str, ...]) -> tuple[int, datetime | None]:
    """A phone's use of the window over all its hashes: the count, and the oldest send."""
    counts = [usage.get(h, (0, None)) for h in hashes]
    oldest = [at for _, at in counts if at is not None]
    return sum(n for n, _ in counts), min(oldest) if oldest else None


async def _claim(
    session: AsyncSession, now: datetime, limit: int, config: GatewayConfig, templates: Templates
) -> _Claimed:
    settings = get_settings()
    claimed = _Claimed()
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CLAIM_LOCK})
    due = list(
        await session.scalars(
            select(CitizenMessage)
            .where(CitizenMessage.state == "pending", CitizenMessage.next_attempt_at <= now)
            .order_by(CitizenMessage.next_attempt_at, CitizenMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not due:
        return claimed
    requests = {
        row.id: row
        for row in await session.execute(
            select(
                Request.id,
                Request.tracking_no,
                Request.external_id,
                Request.channel,
                Request.anonymous,
                Request.created_by,
                Request.citizen_phone_enc,
            ).where(Request.id.in_(sorted({m.request_id for m in due})))
        )
    }
    window = timedelta(seconds=settings.sms_per_phone_window_seconds)
    phones = _phone_groups(due, requests)
    usage = await _phone_usage(session, {h for hashes in phones.values() for h in hashes}, now, window)
    invitation_ids = sorted({m.invitation_id for m in due if m.invitation_id is not None})
    invitations = (
        {
            row.id: row
            for row in await session.execute(
                select(FeedbackInvitation.id, FeedbackInvitation.token_enc, FeedbackInvitation.reply_code).where(
                    FeedbackInvitation.id.in_(invitation_ids)
                )
            )
        }
        if invitation_ids
        else {}
    )
    for message in due:
        claimed.stats.claimed += 1
        request = requests[message.request_id]
        if request.anonymous:
            _fail(message, "the requester is anonymous (保密): never messaged", claimed.stats)
        elif message.medium == "webhook":
            await _notify(session, message, request, templates, now, claimed.stats)
        elif request.citizen_phone_enc is None:
            _fail(message, "the request has no phone", claimed.stats)
        elif not config.enabled:
            _defer(message, now + timedelta(minutes=1), "no SMS gateway is configured", now, claimed.stats)
        else:
            hashes = phones.get(message.id, (message.phone_hash or "",))
            used, oldest = _used(usage, hashes)
            if used >= settings.sms_per_phone_limit:
                free_at = oldest + window if oldest is not None else now + min(window, CLAIM_LEASE)
                _defer(message, free_at, "per-phone limit reached: waits for a free slot", now, claimed.stats)
                continue
            own, own_oldest = usage.get(hashes[0], (0, None))
            usage[hashes[0]] = (own + 1, own_oldest)
            message.attempts += 1
            message.leased_until = message.next_attempt_at = now + CLAIM_LEASE
            invitation = invitations.get(message.invitation_id) if message.invitation_id else None
            claimed.sms.append(
                SmsClaim(
                    id=message.id,
                    attempt=message.attempts,
                    event=message.event,
                    channel=request.channel,
                    variables=dict(message.variables),
                    phone_enc=request.citizen_phone_enc,
                    give_up_at=message.give_up_at,
                    token_enc=invitation.token_enc if invitation else None,
                    reply_code=invitation.reply_code if invitation else None,
                )
            )
    await session.flush()
    return claimed


def _fail(message: CitizenMessage, error: str, stats: SendStats) -> None:
    message.state, message.last_error, message.leased_until = "failed", error, None
    stats.failed += 1


def _defer(message: CitizenMessage, until: datetime, error: str, now: datetime, stats: SendStats) -> None:
    if now >= message.give_up_at:
        _fail(message, f"gave up: {error}", stats)
        return
    message.next_attempt_at, message.last_error = min(until, message.give_up_at), error
    stats.deferred += 1


async def _notify(
    session: AsyncSession, message: CitizenMessage, request: Any, templates: Templates, now: datetime, stats: SendStats
) -> None:
    """Hand a message to the integration's `citizen.notify` webhook (its deliveries retry for 24 h)."""
    message.attempts += 1
    try:
        text_ = templates.render(message.event, "webhook", request.channel, message.variables)
    except (TemplateError, KeyError, ValueError) as exc:
        message.last_error = f"template: {exc}"
        message.next_attempt_at = now + timedelta(minutes=5)
        stats.retried += 1
        return
    owed = await emit(session, NOTIFY_EVENT, _notify_body(message, request, text_), for_actor=request.created_by)
    if owed == 0:
        _fail(message, "the integration no longer subscribes to citizen.notify", stats)
        return
    message.state, message.sent_at, message.last_code, message.last_error = "sent", now, "webhook", None
    stats.notified += 1


# ---- (2) send -----------------------------------------------------------------------------------------


async def _send_sms(
    client: httpx.AsyncClient, config: GatewayConfig, templates: Templates, claim: SmsClaim
) -> GatewayResult:
    """Render and send one SMS. The only place a citizen's phone is decrypted for messaging."""
    cipher = field_cipher()
    values = dict(claim.variables)
    if claim.token_enc is not None:
        values["feedback_link"] = feedback_link(cipher.decrypt(claim.token_enc, context=TOKEN_CONTEXT))
        values["reply_code"] = claim.reply_code or ""
    try:
        text_ = templates.render(claim.event, "sms", claim.channel, values)
    except (TemplateError, KeyError, ValueError) as exc:
        return GatewayResult("retry", None, f"template: {exc}")
    phone = cipher.decrypt(claim.phone_enc)
    return await send_sms(client, config, message_id=message_ref(claim.id), phone=phone, text=text_)


# ---- (3) record ---------------------------------------------------------------------------------------


async def _record(
    session: AsyncSession, results: Iterable[tuple[SmsClaim, GatewayResult]], at: datetime, schedule: list[int]
) -> SendStats:
    stats = SendStats()
    for claim, result in results:
        values: dict[str, Any] = {"last_code": result.code, "last_error": result.error, "leased_until": None}
        if result.verdict == "sent":
            values |= {"state": "sent", "sent_at": at, "provider_message_id": result.provider_message_id}
        elif result.verdict == "failed" or at >= claim.give_up_at:
            values |= {"state": "failed"}
        else:
            values |= {"next_attempt_at": min(at + retry_delay(claim.attempt, schedule), claim.give_up_at)}
        written = await session.scalar(
            update(CitizenMessage)
            .where(
                CitizenMessage.id == claim.id,
                CitizenMessage.state == "pending",
                CitizenMessage.attempts == claim.attempt,
            )
            .values(**values)
            .returning(CitizenMessage.id)
            .execution_options(synchronize_session=False)
        )
        if written is None:
            stats.superseded += 1
        elif values.get("state") == "sent":
            stats.sent += 1
        elif values.get("state") == "failed":
            stats.failed += 1
        else:
            stats.retried += 1
    return stats


async def send_due(
    sessions: Sessions,
    client: httpx.AsyncClient | None = None,
    *,
    now: datetime | None = None,
    limit: int = BATCH_SIZE,
) -> SendStats:
    """Send up to `limit` due messages once each; safe on several workers at once.

    `sessions()` opens a unit of work that commits when its block ends (`shared.db.unit_of_work`).
    `client` (the gateway's HTTP client) is made for the call when not given.
    """
    started = now or datetime.now(UTC)
    config = gateway_config()
    settings = get_settings()
    try:
        templates = load_templates(settings.messages_templates_dir)
    except TemplateError:
        # Messages wait (pending) until the templates are fixed: none is sent with a broken text.
        logger.exception("message templates refused; nothing sent")
        return SendStats()
    async with sessions() as session:
        claimed = await _claim(session, started, limit, config, templates)
    stats = claimed.stats
    if not claimed.sms:
        return stats
    gate = asyncio.Semaphore(CONCURRENCY)
    own_client = client is None
    http = client or make_client(config)

    async def attempt(claim: SmsClaim) -> GatewayResult:
        async with gate:
            try:
                return await _send_sms(http, config, templates, claim)
            except Exception as exc:  # one odd message must not lose the batch's outcomes
                logger.exception("SMS send failed unexpectedly", extra={"message_id": claim.id})
                return GatewayResult("retry", None, f"internal error while sending: {type(exc).__name__}")

    try:
        results = await asyncio.gather(*(attempt(c) for c in claimed.sms))
    finally:
        if own_client:
            await http.aclose()
    for claim, result in zip(claimed.sms, results, strict=True):
        if result.verdict != "sent":
            logger.warning(
                "SMS not sent",
                extra={
                    "message_id": claim.id,
                    "attempt": claim.attempt,
                    "code": result.code,
                    "error": result.error,
                    "retry": result.verdict == "retry",
                },
            )
    finished = now or datetime.now(UTC)
    async with sessions() as session:
        recorded = await _record(
            session, zip(claimed.sms, results, strict=True), finished, settings.messages_retry_seconds
        )
    stats.add(recorded)
    return stats
