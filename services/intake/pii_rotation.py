"""PII key rotation (issue 17; docs/operations.md, "PII key rotation"): citizens' names and phones
re-encrypted under the newest key, and the phones' matching hashes recomputed under the new hash key,
while the platform keeps taking and handling requests.

What is rewritten, table by table (`ROTATION_PHASES`):
- `requests`: `citizen_name_enc`, `citizen_phone_enc` (and `citizen_phone_hash` when the hash key rotates);
- `feedback_invitations`: the link token's ciphertext `token_enc` (and the copied `phone_hash`);
- `citizen_messages`, `sms_replies`: the copied `phone_hash` only (hash rotation only), recomputed from
  their request's phone. A reply that matched no request names no phone: its hash stays under the old key,
  and once that key is destroyed it points at nobody.

How a run goes. `start` records a run (one at a time). `run` walks the tables in primary-key order, in
batches of `batch` rows; each batch is one short transaction: it reads the batch without locks, locks only
the rows it must rewrite with `FOR UPDATE SKIP LOCKED` (a row a live transaction holds is left for the next
pass: nobody waits for the rotation, and it waits for nobody), rewrites them from their locked values, and
moves the stored cursor in the same commit, so a killed run resumes after its last batch. A pass that
changed nothing and left nothing ends the run (`done`): every run's last pass is a full check that every
value opens under the newest key. A value no configured key opens is counted `unreadable` and fails the
run at the end of its pass (named by table and id, never by content).

Readers never fail meanwhile: a ciphertext names its key (`FieldCipher`), and every key stays configured
until the run is done. Matchers accept either hash while `PII_HASH_KEY_PREVIOUS` is set (`phone_hashes`).
"""

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from sqlalchemy import func, or_, select, text, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit import service as audit
from services.messages.queue import TOKEN_CONTEXT
from services.models import Request
from services.models.messages import CitizenMessage, FeedbackInvitation, SmsReply
from services.models.rotation import ROTATION_PHASES, PiiRotation
from shared.auth import Principal, actor_of
from shared.crypto import FieldCipher, field_cipher, hash_key_fingerprint, hash_rotation_active, keyed_hash
from shared.errors import Conflict, NotFound
from shared.queue import LONG_QUEUE, enqueue, enqueue_after_commit
from shared.settings import get_settings

logger = logging.getLogger("minqing.pii_rotation")

ROTATE_TASK = "rotate_pii"
ROTATION_ACTOR = "system:pii_rotation"
# A runner shows it is alive with every batch; a run silent this long may be taken over (a killed CLI or worker).
LEASE = timedelta(seconds=30)
# Passes after which a run that still finds work gives up: values under old keys keep appearing (a process
# still encrypting with an old key list) or rows stay locked.
MAX_PASSES = 10
# Guards every batch: the rotation never waits long for a lock (it takes its row locks with SKIP LOCKED).
LOCK_TIMEOUT = "2s"
UNREADABLE_REFS_KEPT = 20
ENCRYPTION_PHASES = ("requests", "feedback_invitations")

Sessions = Callable[[], AbstractAsyncContextManager[AsyncSession]]
PiiRow = tuple[Any, ...]  # a row as read: its primary key first


class RotationRunning(Conflict):
    title = "A PII key rotation is running"


class HashKeyNotRotating(Conflict):
    title = "No previous matching-hash key"


class RotationHeld(Conflict):
    title = "The rotation is being run elsewhere"


class RotationKeysDiffer(Conflict):
    title = "This process's keys differ from the rotation's"


class RotationNotFound(NotFound):
    title = "No such PII key rotation"


class Unreadable(Exception):
    """A ciphertext that no configured key opens (an unknown key id, a wrong key, damaged bytes)."""


# ---- the rules (no I/O) --------------------------------------------------------------------------------


def rotated(cipher: FieldCipher, blob: bytes | None, *, context: bytes = b"") -> bytes | None:
    """`blob` re-encrypted under the current key; None when there is nothing to do (no value, or already under
    it). Raises `Unreadable` when no configured key opens it."""
    if blob is None or cipher.is_current(blob):
        return None
    try:
        return cipher.reencrypt(blob, context=context)
    except (ValueError, InvalidTag, IndexError) as exc:
        raise Unreadable(str(exc) or type(exc).__name__) from None


def opened(cipher: FieldCipher, blob: bytes, *, context: bytes = b"") -> str:
    try:
        return cipher.decrypt(blob, context=context)
    except (ValueError, InvalidTag, IndexError) as exc:
        raise Unreadable(str(exc) or type(exc).__name__) from None


def recomputed_hash(cipher: FieldCipher, phone_enc: bytes | None, stored: str | None) -> str | None:
    """The phone's matching hash under the current hash key when `stored` differs from it; None when it is
    right already or there is no phone to compute it from."""
    if phone_enc is None:
        return None
    current = keyed_hash(opened(cipher, phone_enc))
    return current if current != stored else None


@dataclass(frozen=True, slots=True)
class RequestPii:
    name_enc: bytes | None
    phone_enc: bytes | None
    phone_hash: str | None


def rewritten_request(cipher: FieldCipher, row: RequestPii, *, rehash: bool) -> RequestPii | None:
    """A request's citizen columns as they must be stored after the rotation; None when they are already."""
    name = rotated(cipher, row.name_enc)
    phone = rotated(cipher, row.phone_enc)
    new_hash = recomputed_hash(cipher, row.phone_enc, row.phone_hash) if rehash else None
    if name is None and phone is None and new_hash is None:
        return None
    return RequestPii(
        name if name is not None else row.name_enc,
        phone if phone is not None else row.phone_enc,
        new_hash if new_hash is not None else row.phone_hash,
    )


# ---- one batch -----------------------------------------------------------------------------------------


@dataclass(slots=True)
class BatchOutcome:
    last_id: int | None  # the highest primary key read; None: the table is done for this pass
    scanned: int = 0
    reencrypted: int = 0
    recomputed: int = 0
    skipped: int = 0  # rows a live transaction held: left for the next pass
    unreadable: list[str] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return self.reencrypted + self.recomputed


def _count_changes(outcome: BatchOutcome, before: tuple[Any, ...], after: tuple[Any, ...], hashed: set[int]) -> None:
    for index, (old, new) in enumerate(zip(before, after, strict=True)):
        if old != new:
            if index in hashed:
                outcome.recomputed += 1
            else:
                outcome.reencrypted += 1


async def _rows(session: AsyncSession, stmt: Any) -> list[PiiRow]:
    return [tuple(row) for row in (await session.execute(stmt)).all()]


async def _requests_batch(
    session: AsyncSession, cipher: FieldCipher, cursor: int, size: int, rehash: bool
) -> BatchOutcome:
    columns = (Request.id, Request.citizen_name_enc, Request.citizen_phone_enc, Request.citizen_phone_hash)
    rows = await _rows(session, select(*columns).where(Request.id > cursor).order_by(Request.id).limit(size))
    if not rows:
        return BatchOutcome(None)
    outcome = BatchOutcome(rows[-1][0], scanned=len(rows))

    def plan(row: PiiRow) -> RequestPii | None:
        return rewritten_request(cipher, RequestPii(row[1], row[2], row[3]), rehash=rehash)

    wanted = _wanted(rows, plan, outcome, "requests")
    if not wanted:
        return outcome
    locked = await _rows(
        session, select(*columns).where(Request.id.in_(wanted)).order_by(Request.id).with_for_update(skip_locked=True)
    )
    outcome.skipped += len(wanted) - len(locked)
    writes: list[tuple[int, RequestPii]] = []
    for row in locked:
        new = _planned(row, plan, outcome, "requests")
        if new is not None:
            _count_changes(outcome, tuple(row[1:]), (new.name_enc, new.phone_enc, new.phone_hash), {2})
            writes.append((row[0], new))
    if writes:
        # Core SQL, one statement per batch: `updated_at` stays as it was (a key change is no change of the
        # request), and no row-state trigger fires (no scored column moves).
        await session.execute(
            text(
                "UPDATE requests AS r SET citizen_name_enc = v.name_enc, citizen_phone_enc = v.phone_enc,"
                " citizen_phone_hash = v.phone_hash"
                " FROM unnest(CAST(:ids AS bigint[]), CAST(:names AS bytea[]), CAST(:phones AS bytea[]),"
                " CAST(:hashes AS text[])) AS v(id, name_enc, phone_enc, phone_hash) WHERE r.id = v.id"
            ),
            {
                "ids": [rid for rid, _ in writes],
                "names": [new.name_enc for _, new in writes],
                "phones": [new.phone_enc for _, new in writes],
                "hashes": [new.phone_hash for _, new in writes],
            },
        )
    return outcome


def _wanted(rows: list[PiiRow], plan: Callable[[PiiRow], Any], outcome: BatchOutcome, table: str) -> list[int]:
    """The ids whose values must change (read without locks); unreadable ones are counted, not wanted."""
    wanted = []
    for row in rows:
        try:
            if plan(row) is not None:
                wanted.append(row[0])
        except Unreadable:
            if len(outcome.unreadable) < UNREADABLE_REFS_KEPT:
                outcome.unreadable.append(f"{table}:{row[0]}")
            else:
                outcome.unreadable.append("")
    return wanted


def _planned(row: PiiRow, plan: Callable[[PiiRow], Any], outcome: BatchOutcome, table: str) -> Any:
    """The plan from the locked values (they may have moved since the read: an erasure, say)."""
    try:
        return plan(row)
    except Unreadable:  # turned unreadable between the two reads: counted by the next pass
        outcome.skipped += 1
        return None


async def _invitations_batch(
    session: AsyncSession, cipher: FieldCipher, cursor: int, size: int, rehash: bool
) -> BatchOutcome:
    fi = FeedbackInvitation
    columns = (fi.id, fi.token_enc, fi.phone_hash, Request.citizen_phone_enc)
    base = select(*columns).join(Request, Request.id == fi.request_id)
    rows = await _rows(session, base.where(fi.id > cursor).order_by(fi.id).limit(size))
    if not rows:
        return BatchOutcome(None)
    outcome = BatchOutcome(rows[-1][0], scanned=len(rows))

    def plan(row: PiiRow) -> tuple[bytes, str] | None:
        token = rotated(cipher, row[1], context=TOKEN_CONTEXT)
        new_hash = recomputed_hash(cipher, row[3], row[2]) if rehash else None
        if token is None and new_hash is None:
            return None
        return (token if token is not None else row[1], new_hash if new_hash is not None else row[2])

    wanted = _wanted(rows, plan, outcome, "feedback_invitations")
    if not wanted:
        return outcome
    locked = await _rows(
        session, base.where(fi.id.in_(wanted)).order_by(fi.id).with_for_update(of=fi, skip_locked=True)
    )
    outcome.skipped += len(wanted) - len(locked)
    writes: list[tuple[int, bytes, str]] = []
    for row in locked:
        new = _planned(row, plan, outcome, "feedback_invitations")
        if new is not None:
            _count_changes(outcome, (row[1], row[2]), new, {1})
            writes.append((row[0], *new))
    if writes:
        await session.execute(
            text(
                "UPDATE feedback_invitations AS f SET token_enc = v.token_enc, phone_hash = v.phone_hash"
                " FROM unnest(CAST(:ids AS bigint[]), CAST(:tokens AS bytea[]), CAST(:hashes AS text[]))"
                " AS v(id, token_enc, phone_hash) WHERE f.id = v.id"
            ),
            {"ids": [w[0] for w in writes], "tokens": [w[1] for w in writes], "hashes": [w[2] for w in writes]},
        )
    return outcome


async def _copied_hashes_batch(
    session: AsyncSession, cipher: FieldCipher, cursor: int, size: int, model: Any, table: str
) -> BatchOutcome:
    """A table that keeps a copy of its request's phone hash (`citizen_messages`, `sms_replies`)."""
    columns = (model.id, model.phone_hash, Request.citizen_phone_enc)
    base = select(*columns).join(Request, Request.id == model.request_id).where(model.phone_hash.is_not(None))
    # The walk reads the table itself by id (rows without a request are passed over, never rewritten).
    ids = await _rows(session, select(model.id).where(model.id > cursor).order_by(model.id).limit(size))
    if not ids:
        return BatchOutcome(None)
    last = ids[-1][0]
    outcome = BatchOutcome(last, scanned=len(ids))
    rows = await _rows(session, base.where(model.id > cursor, model.id <= last).order_by(model.id))

    def plan(row: PiiRow) -> str | None:
        return recomputed_hash(cipher, row[2], row[1])

    wanted = _wanted(rows, plan, outcome, table)
    if not wanted:
        return outcome
    locked = await _rows(
        session, base.where(model.id.in_(wanted)).order_by(model.id).with_for_update(of=model, skip_locked=True)
    )
    outcome.skipped += len(wanted) - len(locked)
    writes: list[tuple[int, str]] = []
    for row in locked:
        new = _planned(row, plan, outcome, table)
        if new is not None:
            outcome.recomputed += 1
            writes.append((row[0], new))
    if writes:
        await session.execute(
            text(
                f"UPDATE {table} AS t SET phone_hash = v.phone_hash"  # one of two constant table names
                " FROM unnest(CAST(:ids AS bigint[]), CAST(:hashes AS text[])) AS v(id, phone_hash) WHERE t.id = v.id"
            ),
            {"ids": [w[0] for w in writes], "hashes": [w[1] for w in writes]},
        )
    return outcome


async def _batch(
    session: AsyncSession, cipher: FieldCipher, phase: str, cursor: int, size: int, rehash: bool
) -> BatchOutcome:
    if phase == "requests":
        return await _requests_batch(session, cipher, cursor, size, rehash)
    if phase == "feedback_invitations":
        return await _invitations_batch(session, cipher, cursor, size, rehash)
    if phase == "citizen_messages":
        return await _copied_hashes_batch(session, cipher, cursor, size, CitizenMessage, "citizen_messages")
    return await _copied_hashes_batch(session, cipher, cursor, size, SmsReply, "sms_replies")


def phases_of(rotation: PiiRotation) -> tuple[str, ...]:
    """The tables a run walks: the copied hashes only when the hash key rotates."""
    return ROTATION_PHASES if rotation.hashes else ENCRYPTION_PHASES


# ---- the run --------------------------------------------------------------------------------------------


def job_id(rotation: PiiRotation) -> str:
    """The long-queue job id of the run's next claim (each claim numbers the next: a re-send never doubles)."""
    return f"pii_rotation:{rotation.id}:{rotation.claims}"


async def running(session: AsyncSession) -> PiiRotation | None:
    return await session.scalar(select(PiiRotation).where(PiiRotation.state == "running"))


async def start(
    session: AsyncSession,
    actor: Principal | str,
    *,
    hashes: bool,
    batch: int | None = None,
    actor_name: str | None = None,
) -> PiiRotation:
    """Record a new run under this process's keys (the newest of `PII_KEYS`; with `hashes`, `PII_HASH_KEY`),
    audited as `pii_rotation.started`. Refused while another run is running, and `hashes` without
    `PII_HASH_KEY_PREVIOUS` (matchers would miss every hash not yet recomputed)."""
    if hashes and not hash_rotation_active():
        raise HashKeyNotRotating(
            "Recomputing the phone hashes needs PII_HASH_KEY_PREVIOUS (the key being replaced) set on every"
            " process, so that duplicates, phone lookups and SMS limits match either hash meanwhile"
        )
    current = await running(session)
    if current is not None:
        raise RotationRunning(f"Rotation {current.id} is running (pass {current.pass_no}, {current.phase})")
    rotation = PiiRotation(
        key_id=field_cipher().current_id,
        hashes=hashes,
        hash_key_fingerprint=hash_key_fingerprint() if hashes else None,
        batch=batch or get_settings().pii_rotation_batch,
        started_by=actor[:64] if isinstance(actor, str) else actor_of(actor),
        counts={},
    )
    try:
        async with session.begin_nested():
            session.add(rotation)
            await session.flush()
    except IntegrityError:  # another start won the race for the one running slot
        raise RotationRunning("Another rotation has just started") from None
    await audit.record(
        session,
        actor,
        "pii_rotation.started",
        "pii_rotation",
        rotation.id,
        after={
            "encryption_key_id": rotation.key_id,
            "matching_key_rotation": rotation.hashes,
            "batch": rotation.batch,
        },
        actor_name=actor_name,
    )
    return rotation


def schedule(session: AsyncSession, rotation: PiiRotation) -> None:
    """Hand the run to the long-queue worker once the session commits."""
    enqueue_after_commit(session, ROTATE_TASK, rotation.id, job_id=job_id(rotation), queue=LONG_QUEUE)


async def resend(rotation: PiiRotation) -> bool:
    """Enqueue the run's next claim now (a stale run's relay, a run that used up its time slice)."""
    return await enqueue(ROTATE_TASK, rotation.id, job_id=job_id(rotation), queue=LONG_QUEUE)


async def stale_runs(session: AsyncSession, now: datetime | None = None) -> list[PiiRotation]:
    """Runs `running` whose runner has not shown a sign of life for a lease (or was never claimed)."""
    cutoff = (now or datetime.now(UTC)) - LEASE
    return list(
        await session.scalars(
            select(PiiRotation).where(
                PiiRotation.state == "running",
                func.coalesce(PiiRotation.heartbeat_at, PiiRotation.started_at) < cutoff,
            )
        )
    )


def new_token() -> str:
    return secrets.token_hex(16)


def _check_keys(rotation: PiiRotation) -> None:
    if field_cipher().current_id != rotation.key_id:
        raise RotationKeysDiffer(
            f"Rotation {rotation.id} re-encrypts under key {rotation.key_id}; this process's newest PII key is"
            f" {field_cipher().current_id}. Give every process the same PII_KEYS"
        )
    if rotation.hashes and hash_key_fingerprint() != rotation.hash_key_fingerprint:
        raise RotationKeysDiffer(
            f"Rotation {rotation.id} recomputes hashes under another PII_HASH_KEY than this process's"
        )


async def claim(session: AsyncSession, rotation_id: int, token: str, now: datetime | None = None) -> PiiRotation:
    """Take the run's lease for `token` (free, stale, or already ours); a live runner elsewhere refuses."""
    now = now or datetime.now(UTC)
    rotation = await session.scalar(select(PiiRotation).where(PiiRotation.id == rotation_id).with_for_update())
    if rotation is None:
        raise RotationNotFound(f"No rotation {rotation_id}")
    if rotation.state != "running":
        return rotation
    _check_keys(rotation)
    alive = rotation.heartbeat_at is not None and rotation.heartbeat_at > now - LEASE
    if rotation.lease_token not in (None, token) and alive:
        age = int((now - rotation.heartbeat_at).total_seconds()) if rotation.heartbeat_at else 0
        raise RotationHeld(f"Rotation {rotation.id} is being run by another process (last batch {age} s ago)")
    rotation.lease_token, rotation.heartbeat_at = token, now
    rotation.claims += 1
    await session.flush()
    return rotation


async def release(session: AsyncSession, rotation_id: int, token: str, error: str | None = None) -> None:
    """Give the lease back (a resumed run may start at once); `error`: why the runner stopped."""
    values: dict[str, Any] = {"lease_token": None}
    if error is not None:
        values["error"] = error[:500]
    await session.execute(
        update(PiiRotation).where(PiiRotation.id == rotation_id, PiiRotation.lease_token == token).values(**values)
    )


def _add_counts(counts: dict[str, Any], outcome: BatchOutcome) -> dict[str, Any]:
    new = dict(counts)
    for name, value in (
        ("scanned", outcome.scanned),
        ("reencrypted", outcome.reencrypted),
        ("recomputed", outcome.recomputed),
        ("locked_skipped", outcome.skipped),
        ("unreadable", len(outcome.unreadable)),
        ("pass_unreadable", len(outcome.unreadable)),
    ):
        new[name] = int(new.get(name, 0)) + value
    refs = [ref for ref in outcome.unreadable if ref]
    if refs:
        new["unreadable_refs"] = (list(new.get("unreadable_refs", [])) + refs)[:UNREADABLE_REFS_KEPT]
    return new


def _end_pass(rotation: PiiRotation, now: datetime) -> None:
    """The pass is over: done, failed, or the next pass from the first table."""
    unreadable = int(rotation.counts.get("pass_unreadable", 0))
    if unreadable:
        refs = ", ".join(rotation.counts.get("unreadable_refs", []))
        rotation.state, rotation.finished_at = "failed", now
        rotation.error = (
            f"{unreadable} rows hold values no configured key opens ({refs}): keep every old key configured,"
            " find the key they were written under, and run again"
        )[:500]
    elif rotation.pass_changed == 0 and rotation.pass_skipped == 0:
        rotation.state, rotation.finished_at, rotation.error = "done", now, None
    elif rotation.pass_no >= MAX_PASSES:
        rotation.state, rotation.finished_at = "failed", now
        rotation.error = (
            f"pass {rotation.pass_no} still rewrote {rotation.pass_changed} values and left {rotation.pass_skipped}"
            " locked rows: is a process still running with the old PII_KEYS or PII_HASH_KEY? Run again once all"
            " of them have the new keys"
        )
    else:
        rotation.pass_no += 1
        rotation.pass_changed = rotation.pass_skipped = 0
        rotation.counts = {**rotation.counts, "pass_unreadable": 0}
        rotation.phase, rotation.cursor = phases_of(rotation)[0], 0
        return
    rotation.lease_token = None


async def step(session: AsyncSession, rotation_id: int, token: str) -> PiiRotation:
    """One batch of the run, in the caller's transaction, with the run's progress: the lease must be `token`'s."""
    await session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    rotation = await session.scalar(select(PiiRotation).where(PiiRotation.id == rotation_id).with_for_update())
    if rotation is None:
        raise RotationNotFound(f"No rotation {rotation_id}")
    if rotation.state != "running":
        return rotation
    if rotation.lease_token != token:
        raise RotationHeld(f"Rotation {rotation.id} was taken over by another process")
    _check_keys(rotation)
    cipher = field_cipher()
    now = datetime.now(UTC)
    phases = phases_of(rotation)
    while True:
        outcome = await _batch(session, cipher, rotation.phase, rotation.cursor, rotation.batch, rotation.hashes)
        rotation.counts = _add_counts(rotation.counts, outcome)
        rotation.pass_changed += outcome.changed
        rotation.pass_skipped += outcome.skipped
        if outcome.last_id is not None:
            rotation.cursor = outcome.last_id
            break
        following = phases.index(rotation.phase) + 1 if rotation.phase in phases else len(phases)
        if following < len(phases):
            rotation.phase, rotation.cursor = phases[following], 0
            continue
        _end_pass(rotation, now)
        break
    rotation.heartbeat_at = now
    await session.flush()
    if rotation.state != "running":
        await audit.record(
            session,
            ROTATION_ACTOR,
            f"pii_rotation.{'finished' if rotation.state == 'done' else 'failed'}",
            "pii_rotation",
            rotation.id,
            after={"state": rotation.state, "passes": rotation.pass_no, **_public_counts(rotation.counts)},
            actor_name="PII key rotation",
        )
    return rotation


def _public_counts(counts: dict[str, Any]) -> dict[str, int]:
    return {k: int(counts.get(k, 0)) for k in ("scanned", "reencrypted", "recomputed", "locked_skipped", "unreadable")}


Progress = Callable[[PiiRotation], Awaitable[None]]


async def run(
    sessions: Sessions,
    rotation_id: int,
    *,
    budget: timedelta | None = None,
    max_batches: int | None = None,
    pause: float = 0.0,
    on_progress: Progress | None = None,
) -> PiiRotation:
    """Run batches until the run is done or failed, `budget` has passed or `max_batches` were run (then it
    answers the run still `running`, its lease released, to be resumed by whoever claims it next)."""
    token = new_token()
    async with sessions() as session:
        rotation = await claim(session, rotation_id, token)
    if rotation.state != "running":
        return rotation
    deadline = time.monotonic() + budget.total_seconds() if budget is not None else None
    batches = 0
    error: str | None = None
    try:
        while True:
            async with sessions() as session:
                rotation = await step(session, rotation_id, token)
            batches += 1
            if on_progress is not None:
                await on_progress(rotation)
            if rotation.state != "running":
                return rotation
            if (max_batches is not None and batches >= max_batches) or (
                deadline is not None and time.monotonic() >= deadline
            ):
                return rotation
            if pause:
                await asyncio.sleep(pause)
    except RotationHeld:  # taken over: the lease is another runner's now
        raise
    except BaseException as exc:
        error = f"{type(exc).__name__}: the run stopped (see the log); it resumes where it stopped"
        raise
    finally:
        if rotation.state == "running":
            try:
                async with sessions() as session:
                    await release(session, rotation_id, token, error)
                rotation.lease_token = None
            except (SQLAlchemyError, OSError):  # the lease runs out by itself
                logger.warning("could not release the rotation's lease", extra={"rotation_id": rotation_id})


# ---- what an operator sees ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeysInForce:
    encryption_key_id: int
    encryption_key_ids: list[int]
    hash_rotation: bool


def keys_in_force() -> KeysInForce:
    """This process's key configuration (ids and whether a previous hash key is set; never a key)."""
    cipher = field_cipher()
    return KeysInForce(cipher.current_id, cipher.key_ids, hash_rotation_active())


async def recent(session: AsyncSession, limit: int = 10) -> list[PiiRotation]:
    return list(await session.scalars(select(PiiRotation).order_by(PiiRotation.id.desc()).limit(limit)))


async def get(session: AsyncSession, rotation_id: int) -> PiiRotation:
    rotation = await session.get(PiiRotation, rotation_id, populate_existing=True)
    if rotation is None:
        raise RotationNotFound(f"No rotation {rotation_id}")
    return rotation


async def values_under_old_keys(session: AsyncSession, key_id: int) -> int:
    """How many stored ciphertexts are not under `key_id` (a full count; for tests and a final check)."""
    conditions = [
        select(func.count())
        .select_from(Request)
        .where(
            or_(
                func.get_byte(Request.citizen_name_enc, 0) != key_id,
                func.get_byte(Request.citizen_phone_enc, 0) != key_id,
            )
        ),
        select(func.count())
        .select_from(FeedbackInvitation)
        .where(func.get_byte(FeedbackInvitation.token_enc, 0) != key_id),
    ]
    total = 0
    for stmt in conditions:
        total += int(await session.scalar(stmt) or 0)
    return total
