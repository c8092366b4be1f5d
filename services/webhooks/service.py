"""Webhooks: events owed to integrations, their signed delivery with retries, and subscriptions.

`emit` writes one delivery row per interested subscription inside the caller's transaction, so
an event exists exactly when the change that caused it was committed. `deliver_due` is the
sweep that sends them: claim a batch in one short transaction, send with no transaction open,
write the outcomes in another short transaction.
"""

import asyncio
import logging
import random
import secrets
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.models import ApiKey, WebhookDelivery, WebhookSubscription
from services.webhooks.errors import TooManyWebhooks, WebhookNotFound
from services.webhooks.guard import WebhookConfig, check_addresses, check_url, normalize_host, webhook_config
from services.webhooks.schemas import EVENT_TYPES, WebhookCreate
from services.webhooks.signing import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    ID_HEADER,
    SIGNATURE_HEADER,
    STANDARD_SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    encode_body,
    sign,
    sign_standard,
)
from shared.auth import Principal, key_id_of
from shared.errors import Forbidden
from shared.pagination import decode_cursor, next_cursor
from shared.settings import get_settings
from shared.views import Rows, RowWith

logger = logging.getLogger("minqing.webhooks")

MANAGE_RIGHT = "webhooks:manage"
MAX_SUBSCRIPTIONS_PER_KEY = 20
# Fields each event type must carry besides the envelope (`id`, `type`, `occurred_at`).
_REQUEST = frozenset({"request_id", "version", "from", "to"})
_SLA = _REQUEST | {"tracking_no", "external_id", "sla_state", "phase", "deadline", "escalation_level", "unit"}
REQUIRED_FIELDS: dict[str, frozenset[str]] = {
    "request.status_changed": _REQUEST,
    "request.sla_warning": _SLA,
    "request.sla_overdue": _SLA,
    "request.escalated": _SLA | {"reason", "escalated_to", "supervisor_ids", "leader_ids", "note"},
    "request.supervised": _SLA | {"kind", "order_id", "note", "due_by"},
    "alert.raised": frozenset(),
    # A message for the citizen, sent through the integration that submitted the request (services/messages).
    "citizen.notify": frozenset({"message_id", "request_id", "tracking_no", "external_id", "event", "text"}),
}

BATCH_SIZE = 100
CONCURRENCY = 25
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 5.0
RESOLVE_TIMEOUT = 5.0
# One delivery, from DNS to the answer's status line, never takes longer than this.
SEND_DEADLINE = 12.0
# A claimed delivery is not due again for this long: longer than a whole batch can take
# (BATCH_SIZE / CONCURRENCY waves of SEND_DEADLINE), so only a crashed sweep's claims come back.
CLAIM_LEASE = timedelta(minutes=2)
RETRY_FOR = timedelta(hours=24)
FIRST_RETRY_SECONDS = 10.0
MAX_RETRY_SECONDS = 3600.0
MAX_ADDRESSES_TRIED = 3
ERROR_LENGTH = 200
USER_AGENT = "Minqing-Webhooks/1"


# ---- events ----------------------------------------------------------------------------------


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


NOBODY = -1


def _target(for_actor: str | None) -> int | None:
    """None: every subscriber; an API key id: that key's subscribers; NOBODY: no one (staff actors)."""
    if for_actor is None:
        return None
    key_id = key_id_of(for_actor)
    return NOBODY if key_id is None else key_id


async def emit(
    session: AsyncSession,
    event_type: str,
    fields: dict[str, Any],
    *,
    for_actor: str | None,
    occurred_at: datetime | None = None,
) -> int:
    """Owe `event_type` to every active subscription that lists it; return how many deliveries were written.

    `for_actor` is the actor the event concerns, as `shared.auth.actor_of` writes it: `key:<id>`
    sends it to that API key's subscriptions only (a request's status goes to the integration that
    submitted it), `staff:<id>` to nobody, None to every subscriber (alerts). Call it inside the
    unit of work that makes the change: the deliveries are committed with it, or not at all.
    """
    return await emit_many(session, event_type, [(fields, for_actor)], occurred_at=occurred_at)


async def emit_many(
    session: AsyncSession,
    event_type: str,
    events: Sequence[tuple[dict[str, Any], str | None]],
    *,
    occurred_at: datetime | None = None,
) -> int:
    """`emit` for many events of one type (each with the actor it is for): one subscription query, one insert."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"Unknown webhook event type {event_type!r}")
    for fields, _ in events:
        missing = REQUIRED_FIELDS[event_type] - fields.keys()
        if missing:
            raise ValueError(f"{event_type} needs the fields {sorted(missing)}")
        if {"id", "type", "occurred_at"} & fields.keys():
            raise ValueError("id, type and occurred_at are set by emit")
    # Who each event goes to: every subscriber (for no actor), one API key's (key:<id>), or nobody.
    targets = [_target(for_actor) for _, for_actor in events]
    wanted = [t for t in targets if t != NOBODY]
    if not wanted:
        return 0
    stmt = (
        select(WebhookSubscription.id, WebhookSubscription.api_key_id)
        .join(ApiKey, ApiKey.id == WebhookSubscription.api_key_id)
        .where(
            WebhookSubscription.active.is_(True),
            ApiKey.revoked_at.is_(None),
            WebhookSubscription.event_types.contains([event_type]),
        )
        .order_by(WebhookSubscription.id)
    )
    if None not in wanted:
        stmt = stmt.where(WebhookSubscription.api_key_id.in_(sorted({t for t in wanted if t is not None})))
    subscriptions = (await session.execute(stmt)).all()
    if not subscriptions:
        return 0
    when = (occurred_at or datetime.now(UTC)).astimezone(ZoneInfo(get_settings().timezone)).isoformat()
    rows: list[dict[str, Any]] = []
    for (fields, _), target in zip(events, targets, strict=True):
        ids = [s.id for s in subscriptions if target is None or s.api_key_id == target]
        if not ids:
            continue
        event_id = new_event_id()
        # Through JSON once, so what is stored is exactly what will be sent (dates as ISO strings).
        body: dict[str, Any] = orjson.loads(
            orjson.dumps({"id": event_id, "type": event_type, "occurred_at": when, **fields})
        )
        rows.extend(
            {"subscription_id": sid, "event_id": event_id, "event_type": event_type, "body": body} for sid in ids
        )
    if rows:
        await session.execute(insert(WebhookDelivery).execution_options(render_nulls=True), rows)
    return len(rows)


# ---- delivery --------------------------------------------------------------------------------


@dataclass(slots=True)
class DeliveryStats:
    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    # Outcomes not written because the claim's lease ran out and another sweep took the row over.
    superseded: int = 0


@dataclass(frozen=True, slots=True)
class Claim:
    """A due delivery taken by one sweep; `attempt` (its attempt number) fences the outcome's write."""

    id: int
    attempt: int
    event_type: str
    body: dict[str, Any]
    created_at: datetime
    url: str
    secret: str
    blocked: str | None  # why it must not be sent at all (subscription gone inactive, key revoked)


@dataclass(frozen=True, slots=True)
class Outcome:
    delivered: bool
    status_code: int | None = None
    error: str | None = None
    permanent: bool = False  # no retry: the target is refused, not merely failing


Resolver = Callable[[str, int], Awaitable[list[str]]]
Sessions = Callable[[], AbstractAsyncContextManager[AsyncSession]]


async def resolve_host(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, IPv4 and IPv6, in the resolver's order."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def retry_delay(attempts: int, rand: Callable[[], float] = random.random) -> timedelta:
    """Wait after failed attempt number `attempts`: 10 s, 20 s, 40 s … at most 1 h, minus up to 25 % jitter."""
    exponent = min(max(attempts, 1) - 1, 20)
    base = min(FIRST_RETRY_SECONDS * 2**exponent, MAX_RETRY_SECONDS)
    return timedelta(seconds=base * (1 - 0.25 * rand()))


def make_client() -> httpx.AsyncClient:
    """The HTTP client deliveries want: short timeouts, no redirects, no proxies from the environment.

    No keep-alive: sends are pinned to vetted addresses, and a pooled connection must never carry
    one host's request over a TLS session that was verified for another.
    """
    return httpx.AsyncClient(
        timeout=httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT),
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_connections=CONCURRENCY * 2, max_keepalive_connections=0),
        headers={"User-Agent": USER_AGENT},
    )


def _short(text: str) -> str:
    return text if len(text) <= ERROR_LENGTH else text[: ERROR_LENGTH - 1] + "…"


def _refused(error: str) -> Outcome:
    return Outcome(delivered=False, error=_short(error), permanent=True)


def _retry(error: str, status_code: int | None = None) -> Outcome:
    return Outcome(delivered=False, status_code=status_code, error=_short(error))


def _status_outcome(status: int) -> Outcome:
    if 200 <= status < 300:
        return Outcome(delivered=True, status_code=status)
    if 300 <= status < 400:
        return _retry(f"HTTP {status}: redirects are not followed", status)
    return _retry(f"HTTP {status}", status)


async def send_one(
    client: httpx.AsyncClient,
    claim: Claim,
    *,
    config: WebhookConfig,
    resolve: Resolver = resolve_host,
) -> Outcome:
    """POST one delivery, signed, to an address checked just before connecting to it.

    The host is resolved once; every address must pass the guard, and the connection goes to
    those very addresses (Host header and TLS server name stay the URL's host), so a DNS answer
    that changes between the check and the connection cannot redirect the send.
    Only the status code of the answer is used; its body is never read.
    """
    try:
        url = check_url(claim.url, config)
    except ValueError as exc:
        return _refused(f"URL refused: {exc}")
    host = normalize_host(url.raw_host.decode("ascii"))
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT):
            addresses = await resolve(host, port)
    except (OSError, TimeoutError) as exc:
        return _retry(f"DNS lookup of {host} failed: {type(exc).__name__}")
    reason = check_addresses(addresses, host=host, config=config)
    if reason is not None:
        return _refused(f"refused: {reason}")

    body = encode_body(claim.body)
    # Signed at each attempt: the timestamp says when this attempt was sent (receivers refuse old ones).
    sent_at = int(time.time())
    message_id = str(claim.body.get("id") or f"dlv_{claim.id}")
    headers = {
        "Content-Type": "application/json",
        ID_HEADER: message_id,
        TIMESTAMP_HEADER: str(sent_at),
        STANDARD_SIGNATURE_HEADER: sign_standard(message_id, sent_at, body, claim.secret),
        SIGNATURE_HEADER: sign(body, claim.secret),
        EVENT_HEADER: claim.event_type,
        DELIVERY_HEADER: str(claim.id),
    }
    timeout = httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT)
    last = _retry("no address to connect to")
    try:
        async with asyncio.timeout(SEND_DEADLINE):
            for address in addresses[:MAX_ADDRESSES_TRIED]:
                if normalize_host(address) == host:
                    target, extensions = url, {}
                else:
                    target = url.copy_with(host=address)
                    headers["Host"] = url.netloc.decode("ascii")
                    extensions = {"sni_hostname": host}
                request = client.build_request(
                    "POST", target, content=body, headers=headers, timeout=timeout, extensions=extensions
                )
                try:
                    response = await client.send(request, stream=True, follow_redirects=False)
                except httpx.ConnectError as exc:
                    last = _retry(f"connection to {host} failed: {type(exc).__name__}")
                    continue
                await response.aclose()
                return _status_outcome(response.status_code)
    except (TimeoutError, httpx.TimeoutException):
        return _retry(f"no answer from {host} in time")
    except httpx.HTTPError as exc:
        return _retry(f"sending to {host} failed: {type(exc).__name__}")
    except OSError as exc:
        return _retry(f"sending to {host} failed: {type(exc).__name__}")
    return last


async def _claim(session: AsyncSession, now: datetime, limit: int) -> list[Claim]:
    """Take up to `limit` due deliveries: count the attempt and push them a lease into the future."""
    due = (
        select(WebhookDelivery.id)
        .where(WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    taken = (
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(due.scalar_subquery()))
            .values(attempts=WebhookDelivery.attempts + 1, next_attempt_at=now + CLAIM_LEASE)
            .returning(
                WebhookDelivery.id,
                WebhookDelivery.subscription_id,
                WebhookDelivery.attempts,
                WebhookDelivery.event_type,
                WebhookDelivery.body,
                WebhookDelivery.created_at,
            )
            .execution_options(synchronize_session=False)
        )
    ).all()
    if not taken:
        return []
    subscriptions = {
        row.id: row
        for row in await session.execute(
            select(
                WebhookSubscription.id,
                WebhookSubscription.url,
                WebhookSubscription.secret,
                WebhookSubscription.active,
                ApiKey.revoked_at,
            )
            .join(ApiKey, ApiKey.id == WebhookSubscription.api_key_id)
            .where(WebhookSubscription.id.in_({row.subscription_id for row in taken}))
        )
    }
    claims = []
    for row in sorted(taken, key=lambda r: r.id):
        sub = subscriptions[row.subscription_id]
        blocked = None
        if not sub.active:
            blocked = "the subscription is inactive"
        elif sub.revoked_at is not None:
            blocked = "the subscription's API key is revoked"
        claims.append(
            Claim(
                id=row.id,
                attempt=row.attempts,
                event_type=row.event_type,
                body=row.body,
                created_at=row.created_at,
                url=sub.url,
                secret=sub.secret,
                blocked=blocked,
            )
        )
    return claims


def _outcome_values(claim: Claim, outcome: Outcome, at: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {"last_status_code": outcome.status_code, "last_error": outcome.error}
    if outcome.delivered:
        return values | {"state": "delivered", "delivered_at": at, "last_error": None}
    give_up_at = claim.created_at + RETRY_FOR
    if outcome.permanent or at >= give_up_at:
        return values | {"state": "failed"}
    # The last retry happens at the 24 h mark, not later.
    return values | {"state": "pending", "next_attempt_at": min(at + retry_delay(claim.attempt), give_up_at)}


async def _record(session: AsyncSession, results: Iterable[tuple[Claim, Outcome]], at: datetime) -> DeliveryStats:
    stats = DeliveryStats()
    for claim, outcome in results:
        stats.claimed += 1
        values = _outcome_values(claim, outcome, at)
        written = await session.scalar(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == claim.id,
                WebhookDelivery.state == "pending",
                WebhookDelivery.attempts == claim.attempt,
            )
            .values(**values)
            .returning(WebhookDelivery.id)
            .execution_options(synchronize_session=False)
        )
        if written is None:
            stats.superseded += 1
        elif values["state"] == "delivered":
            stats.delivered += 1
        elif values["state"] == "failed":
            stats.failed += 1
        else:
            stats.retried += 1
    return stats


async def deliver_due(
    sessions: Sessions,
    client: httpx.AsyncClient,
    *,
    now: datetime | None = None,
    limit: int = BATCH_SIZE,
    resolve: Resolver = resolve_host,
) -> DeliveryStats:
    """Send up to `limit` due deliveries once each; safe to run on several workers at once.

    `sessions()` opens a unit of work that commits when its block ends (`shared.db.unit_of_work`).
    Three steps, so no row lock is held while a receiver is slow: (1) one short transaction claims
    due rows with `FOR UPDATE SKIP LOCKED`, counts the attempt and moves `next_attempt_at` a lease
    ahead; (2) the sends run with no transaction open; (3) one short transaction writes each
    outcome, only if the row is still at the claimed attempt. A sweep that dies after (1) loses
    nothing: its rows come due again when the lease ends.
    """
    started = now or datetime.now(UTC)
    config = webhook_config()
    async with sessions() as session:
        claims = await _claim(session, started, limit)
    if not claims:
        return DeliveryStats()
    gate = asyncio.Semaphore(CONCURRENCY)

    async def attempt(claim: Claim) -> Outcome:
        if claim.blocked is not None:
            return _refused(claim.blocked)
        async with gate:
            try:
                return await send_one(client, claim, config=config, resolve=resolve)
            except Exception as exc:  # one odd delivery must not lose the batch's outcomes
                logger.exception("webhook send failed unexpectedly", extra={"delivery_id": claim.id})
                return _retry(f"internal error while sending: {type(exc).__name__}")

    outcomes = await asyncio.gather(*(attempt(c) for c in claims))
    for claim, outcome in zip(claims, outcomes, strict=True):
        if not outcome.delivered:
            # Operators see failing receivers in the logs, not only in the rows (the error never holds the answer's body).
            logger.warning(
                "webhook delivery failed",
                extra={
                    "delivery_id": claim.id,
                    "attempt": claim.attempt,
                    "status_code": outcome.status_code,
                    "error": outcome.error,
                    "retry": not outcome.permanent,
                },
            )
    finished = now or datetime.now(UTC)
    async with sessions() as session:
        return await _record(session, zip(claims, outcomes, strict=True), finished)


# ---- subscriptions ---------------------------------------------------------------------------


def _manager_key_id(principal: Principal) -> int:
    """The caller's API key id, when it is an integration allowed to manage webhooks."""
    if principal.kind != "integration":
        raise Forbidden("Webhook subscriptions belong to integrations: call with an API key")
    if MANAGE_RIGHT not in principal.rights:
        raise Forbidden(f"This API key lacks the {MANAGE_RIGHT!r} right")
    return principal.id


async def _own_subscription(session: AsyncSession, key_id: int, subscription_id: int) -> WebhookSubscription:
    sub = await session.scalar(
        select(WebhookSubscription).where(
            WebhookSubscription.id == subscription_id, WebhookSubscription.api_key_id == key_id
        )
    )
    if sub is None:
        # Another key's subscription is as absent as a missing one.
        raise WebhookNotFound(f"No webhook subscription {subscription_id}")
    return sub


async def create_subscription(session: AsyncSession, principal: Principal, data: WebhookCreate) -> WebhookSubscription:
    """Subscribe the caller's API key; the answer (`WebhookCreated`) carries the signing secret, the only time
    it is shown (`WebhookOut` has none)."""
    key_id = _manager_key_id(principal)
    # Serialise concurrent creations for one key, so the cap holds.
    await session.execute(select(ApiKey.id).where(ApiKey.id == key_id).with_for_update())
    count = await session.scalar(
        select(func.count()).select_from(WebhookSubscription).where(WebhookSubscription.api_key_id == key_id)
    )
    if (count or 0) >= MAX_SUBSCRIPTIONS_PER_KEY:
        raise TooManyWebhooks(f"An API key may hold at most {MAX_SUBSCRIPTIONS_PER_KEY} webhook subscriptions")
    secret = secrets.token_urlsafe(32)
    sub = WebhookSubscription(api_key_id=key_id, url=data.url, secret=secret, event_types=list(data.event_types))
    session.add(sub)
    await session.flush()
    await session.refresh(sub, ["created_at", "active"])
    return sub


async def list_subscriptions(session: AsyncSession, principal: Principal) -> list[WebhookSubscription]:
    """The caller's own subscriptions (never their secrets)."""
    key_id = _manager_key_id(principal)
    subs = await session.scalars(
        select(WebhookSubscription).where(WebhookSubscription.api_key_id == key_id).order_by(WebhookSubscription.id)
    )
    return list(subs)


async def delete_subscription(session: AsyncSession, principal: Principal, subscription_id: int) -> None:
    """Delete one of the caller's subscriptions; its deliveries, pending or not, go with it."""
    sub = await _own_subscription(session, _manager_key_id(principal), subscription_id)
    await session.delete(sub)
    await session.flush()


PING = "webhook.ping"


async def ping(session: AsyncSession, principal: Principal, subscription_id: int) -> WebhookDelivery:
    """A `webhook.ping` delivery to one of the caller's subscriptions, due at once (signed and retried like
    any other): a receiver checks its endpoint and its signature check with it."""
    sub = await _own_subscription(session, _manager_key_id(principal), subscription_id)
    event_id = new_event_id()
    delivery = WebhookDelivery(
        subscription_id=sub.id,
        event_id=event_id,
        event_type=PING,
        body={
            "id": event_id,
            "type": PING,
            "occurred_at": datetime.now(UTC).isoformat(),
            "subscription_id": sub.id,
        },
    )
    session.add(delivery)
    await session.flush()
    await session.refresh(delivery)
    return delivery


async def redeliver(
    session: AsyncSession, principal: Principal, subscription_id: int, delivery_id: int
) -> WebhookDelivery:
    """Send one of a subscription's deliveries again, whatever became of it: a new delivery of the same event
    (same `webhook-id`, so a receiver that has it already drops it), due at once, retried for 24 h."""
    sub = await _own_subscription(session, _manager_key_id(principal), subscription_id)
    old = await session.scalar(
        select(WebhookDelivery).where(WebhookDelivery.id == delivery_id, WebhookDelivery.subscription_id == sub.id)
    )
    if old is None:
        raise WebhookNotFound(f"No delivery {delivery_id} of webhook subscription {subscription_id}")
    again = WebhookDelivery(subscription_id=sub.id, event_id=old.event_id, event_type=old.event_type, body=old.body)
    session.add(again)
    await session.flush()
    await session.refresh(again)
    return again


@dataclass(frozen=True, slots=True)
class DeliveryView(RowWith[WebhookDelivery]):
    """A delivery as its owner reads it (`DeliveryOut`): a next attempt only while it is pending."""

    @property
    def next_attempt_at(self) -> datetime | None:
        return self.row.next_attempt_at if self.row.state == "pending" else None


async def list_deliveries(
    session: AsyncSession,
    principal: Principal,
    subscription_id: int,
    *,
    state: str | None = None,
    cursor: str | None = None,
    limit: int,
) -> Rows[DeliveryView]:
    """Deliveries of one of the caller's subscriptions, newest first."""
    sub = await _own_subscription(session, _manager_key_id(principal), subscription_id)
    stmt = select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.id)
    if state is not None:
        stmt = stmt.where(WebhookDelivery.state == state)
    before = decode_cursor(cursor)
    if before is not None:
        stmt = stmt.where(WebhookDelivery.id < before)
    rows = list(await session.scalars(stmt.order_by(WebhookDelivery.id.desc()).limit(limit)))
    return Rows([DeliveryView(d) for d in rows], next_cursor([d.id for d in rows], limit))
