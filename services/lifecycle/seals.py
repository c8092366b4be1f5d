"""Seals that anchor the trails (SPEC §8, issue 17): each request's event chain proves that no event in it
was edited, but not that none was cut off the end, and anyone with database access could recompute a
whole chain. So a periodic job seals the heads of every chain changed since the seal before (and the admin
audit rows written since) into a record that holds the Merkle root of those heads, the hash of the seal
before, and an HMAC of all that under the trail seal key, a key that is not in the database.

`verify_trails` checks every seal (numbering, links, roots, signatures) and every chain against its latest
sealed head, and reports edits, deletions and truncations. What happened after the latest seal (at most a
seal interval) is checked only for the chains' own consistency.
"""

import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.lifecycle.events import verify_chain
from services.models import AdminAuditEntry, RequestEvent
from services.models.seals import TrailSeal, TrailSealLeaf
from shared.settings import get_settings

GENESIS = "0" * 64
# Rows written in the last seconds may belong to transactions that have not committed yet, with lower ids
# than rows already visible: a seal covers ids up to just below the first row younger than this.
SETTLE = timedelta(seconds=30)
# One seal's advisory lock: two workers running the cron at once make one seal.
_SEAL_LOCK = 7_261_204_017
Problem = Literal["seal_missing", "seal_broken", "edited", "deleted", "truncated"]


def seal_key() -> bytes:
    settings = get_settings()
    if settings.trail_seal_key is not None:
        return settings.trail_seal_key.get_secret_value().encode()
    secret = settings.secret_key.get_secret_value().encode()
    return hmac.new(secret, b"minqing trail seal", hashlib.sha256).digest()


def _sha(text_: str) -> str:
    return hashlib.sha256(text_.encode()).hexdigest()


def leaf_hash(kind: str, subject_id: int, seq: int, hash_: str) -> str:
    return _sha(f"{kind}:{subject_id}:{seq}:{hash_}")


def merkle_root(leaves: Sequence[str]) -> str:
    """The root of a binary hash tree over the leaves in order (an odd node is paired with itself)."""
    level = list(leaves) or [_sha("")]
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        level = [_sha(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def _seal_hash(seal: TrailSeal) -> str:
    sealed_at = seal.sealed_at.astimezone(UTC).isoformat()
    return _sha(
        f"{seal.seal_no}|{sealed_at}|{seal.last_event_id}|{seal.last_audit_id}|{seal.leaves}|{seal.root}|{seal.prev_hash}"
    )


def _signature(hash_: str) -> str:
    return hmac.new(seal_key(), hash_.encode(), hashlib.sha256).hexdigest()


def audit_row_hash(entry: AdminAuditEntry) -> str:
    """The hash of an admin audit row's content."""
    fields = {
        "id": entry.id,
        "occurred_at": entry.occurred_at.astimezone(UTC).isoformat(),
        "actor": entry.actor,
        "actor_name": entry.actor_name,
        "actor_scope": entry.actor_scope,
        "action": entry.action,
        "target_kind": entry.target_kind,
        "target_id": entry.target_id,
        "before": entry.before,
        "after": entry.after,
        "client_ip": entry.client_ip,
        "request_id": entry.request_id,
    }
    return _sha(json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str))


async def latest_seal(session: AsyncSession) -> TrailSeal | None:
    found: TrailSeal | None = await session.scalar(select(TrailSeal).order_by(TrailSeal.seal_no.desc()).limit(1))
    return found


async def _settled_upto(session: AsyncSession, model: Any, after: int, cutoff: datetime) -> int:
    """The greatest id to seal: every row after `after` up to just below the first one younger than cutoff."""
    young = await session.scalar(select(func.min(model.id)).where(model.id > after, model.occurred_at > cutoff))
    if young is not None:
        return int(young) - 1
    return int(await session.scalar(select(func.coalesce(func.max(model.id), after))) or after)


async def seal(session: AsyncSession, now: datetime | None = None) -> TrailSeal | None:
    """Seal the heads of the chains changed since the last seal and the admin audit rows written since, in
    the caller's transaction; None when nothing new has settled."""
    now = now or datetime.now(UTC)
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SEAL_LOCK})
    last = await latest_seal(session)
    after_event = last.last_event_id if last else 0
    after_audit = last.last_audit_id if last else 0
    upto_event = await _settled_upto(session, RequestEvent, after_event, now - SETTLE)
    upto_audit = await _settled_upto(session, AdminAuditEntry, after_audit, now - SETTLE)
    if upto_event <= after_event and upto_audit <= after_audit:
        return None
    heads = (
        await session.execute(
            select(RequestEvent.request_id, RequestEvent.seq, RequestEvent.hash)
            .where(RequestEvent.id > after_event, RequestEvent.id <= upto_event)
            .distinct(RequestEvent.request_id)
            .order_by(RequestEvent.request_id, RequestEvent.seq.desc())
        )
    ).all()
    audits = list(
        await session.scalars(
            select(AdminAuditEntry)
            .where(AdminAuditEntry.id > after_audit, AdminAuditEntry.id <= upto_audit)
            .order_by(AdminAuditEntry.id)
        )
    )
    leaves = [("request", int(r.request_id), int(r.seq), r.hash) for r in heads]
    leaves += [("admin_audit", int(entry.id), 0, audit_row_hash(entry)) for entry in audits]
    record = TrailSeal(
        seal_no=(last.seal_no + 1) if last else 1,
        sealed_at=now.replace(microsecond=0),
        last_event_id=max(upto_event, after_event),
        last_audit_id=max(upto_audit, after_audit),
        leaves=len(leaves),
        root=merkle_root([leaf_hash(*leaf) for leaf in leaves]),
        prev_hash=last.hash if last else GENESIS,
        hash="",
        signature="",
    )
    record.hash = _seal_hash(record)
    record.signature = _signature(record.hash)
    session.add(record)
    await session.flush()
    if leaves:
        await session.execute(
            insert(TrailSealLeaf),
            [{"seal_id": record.id, "kind": k, "subject_id": s, "seq": q, "hash": h} for k, s, q, h in leaves],
        )
    return record


@dataclass(slots=True)
class Finding:
    problem: Problem
    detail: str
    request_id: int | None = None
    seq: int | None = None
    audit_id: int | None = None
    seal_no: int | None = None


@dataclass(slots=True)
class TrailReport:
    seals: int = 0
    chains: int = 0
    events: int = 0
    audit_rows: int = 0
    latest_seal: TrailSeal | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.findings


def _check_seals(seals: Sequence[TrailSeal], leaves: dict[int, list[TrailSealLeaf]], report: TrailReport) -> None:
    prev_hash, expected_no = GENESIS, 1
    for record in seals:
        if record.seal_no != expected_no:
            report.findings.append(
                Finding("seal_missing", f"seals {expected_no}–{record.seal_no - 1} are missing", seal_no=expected_no)
            )
        own = sorted(leaves.get(record.id, []), key=lambda leaf: (leaf.kind != "request", leaf.subject_id))
        root = merkle_root([leaf_hash(leaf.kind, leaf.subject_id, leaf.seq, leaf.hash) for leaf in own])
        broken = []
        if record.prev_hash != prev_hash:
            broken.append("its link to the seal before")
        if _seal_hash(record) != record.hash:
            broken.append("its hash")
        if not hmac.compare_digest(_signature(record.hash), record.signature):
            broken.append("its signature")
        if root != record.root or len(own) != record.leaves:
            broken.append("its sealed heads (rows of trail_seal_leaves edited or deleted)")
        if broken:
            report.findings.append(
                Finding("seal_broken", "seal does not hold: " + ", ".join(broken), seal_no=record.seal_no)
            )
        prev_hash, expected_no = record.hash, record.seal_no + 1


def _check_chain(
    request_id: int, events: list[RequestEvent], sealed: tuple[int, str] | None, report: TrailReport
) -> None:
    seqs = [event.seq for event in events]
    if seqs != list(range(1, len(seqs) + 1)):
        missing = sorted(set(range(1, max(seqs, default=0) + 1)) - set(seqs))
        if missing:
            report.findings.append(
                Finding("deleted", f"events {missing[:10]} are missing", request_id=request_id, seq=missing[0])
            )
    broken = verify_chain(events)
    if broken is not None:
        report.findings.append(
            Finding("edited", "the chain does not hold from here", request_id=request_id, seq=broken)
        )
    if sealed is None:
        return
    sealed_seq, sealed_hash = sealed
    by_seq = {event.seq: event for event in events}
    if max(seqs, default=0) < sealed_seq:
        report.findings.append(
            Finding(
                "truncated",
                f"sealed up to event {sealed_seq}, the trail ends at {max(seqs, default=0)}",
                request_id=request_id,
                seq=max(seqs, default=0) + 1,
            )
        )
    elif by_seq.get(sealed_seq) is not None and by_seq[sealed_seq].hash != sealed_hash:
        report.findings.append(
            Finding(
                "edited",
                "the sealed event's hash differs (the chain was rewritten)",
                request_id=request_id,
                seq=sealed_seq,
            )
        )


async def verify_trails(session: AsyncSession, batch: int = 2000) -> TrailReport:
    """Check every seal and every chain (and the sealed admin audit rows) against the seals."""
    report = TrailReport()
    seals = list(await session.scalars(select(TrailSeal).order_by(TrailSeal.seal_no)))
    report.seals, report.latest_seal = len(seals), (seals[-1] if seals else None)
    leaves: dict[int, list[TrailSealLeaf]] = {}
    sealed_heads: dict[int, tuple[int, str]] = {}
    sealed_audit: dict[int, str] = {}
    for leaf in await session.scalars(select(TrailSealLeaf).order_by(TrailSealLeaf.id)):
        leaves.setdefault(leaf.seal_id, []).append(leaf)
        if leaf.kind == "request":
            if leaf.seq >= sealed_heads.get(leaf.subject_id, (0, ""))[0]:
                sealed_heads[leaf.subject_id] = (leaf.seq, leaf.hash)
        else:
            sealed_audit[leaf.subject_id] = leaf.hash
    _check_seals(seals, leaves, report)
    # Chains, a batch of requests at a time: those with events, and sealed ones whose events are all gone.
    ids = sorted(set(await session.scalars(select(RequestEvent.request_id).distinct())) | set(sealed_heads))
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        events: dict[int, list[RequestEvent]] = {request_id: [] for request_id in chunk}
        stmt = (
            select(RequestEvent)
            .where(RequestEvent.request_id.in_(chunk))
            .order_by(RequestEvent.request_id, RequestEvent.seq)
        )
        for event in await session.scalars(stmt):
            events[event.request_id].append(event)
        for request_id in chunk:
            report.chains += 1
            report.events += len(events[request_id])
            _check_chain(request_id, events[request_id], sealed_heads.get(request_id), report)
        session.expunge_all()
    audit_ids = sorted(sealed_audit)
    for start in range(0, len(audit_ids), batch):
        chunk = audit_ids[start : start + batch]
        rows = {
            entry.id: entry
            for entry in await session.scalars(select(AdminAuditEntry).where(AdminAuditEntry.id.in_(chunk)))
        }
        for audit_id in chunk:
            report.audit_rows += 1
            entry = rows.get(audit_id)
            if entry is None:
                report.findings.append(Finding("deleted", "a sealed admin audit row is missing", audit_id=audit_id))
            elif audit_row_hash(entry) != sealed_audit[audit_id]:
                report.findings.append(Finding("edited", "a sealed admin audit row was changed", audit_id=audit_id))
        session.expunge_all()
    return report


def describe(findings: Iterable[Finding]) -> list[str]:
    """One line a finding, for the CLI."""
    out = []
    for f in findings:
        where = (
            f"request {f.request_id} event {f.seq}"
            if f.request_id is not None
            else f"admin audit row {f.audit_id}"
            if f.audit_id is not None
            else f"seal {f.seal_no}"
        )
        out.append(f"{f.problem}: {where}: {f.detail}")
    return out
