"""Scoring rules: schemes, runs (compute, store, verify), and reading stored scores in the caller's scope.

A run computes a period's scores under one scheme version as of one time, from a read-only snapshot
session (REPEATABLE READ, so every query of the run sees the same data), and stores one result per
subject. Readers get the latest finished run of a period unless they name one. Takes the session,
never commits.
"""

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.audit import service as audit
from services.models import ScoreResult, ScoreRun, ScoringScheme
from services.scoring import figures
from services.scoring import repository as repo
from services.scoring.compute import (
    UNIT_LEVELS,
    Computation,
    DepartmentInfo,
    Extras,
    OrgData,
    ResultRow,
    StaffInfo,
    UnitInfo,
    competition_ranks,
    compute,
    staff_ids_needed,
)
from services.scoring.errors import (
    RunAlreadyPublished,
    RunNotFinished,
    RunNotFound,
    SchemeNotFound,
    SchemeVersionTaken,
    ScoresNotFound,
)
from services.scoring.periods import Period, parse_period
from services.scoring.schemas import (
    PUBLIC_FIGURES,
    RATE_NAMES,
    Breakdown,
    CadreScore,
    Difference,
    MovedFact,
    PublicChange,
    PublicLeaderContacts,
    PublicLeaderContactsPage,
    PublicUnitScore,
    PublicUnitsPage,
    RankingItem,
    RankingOut,
    RunCreate,
    SchemeCreate,
    UnitScore,
    UnitScoreDetail,
    UnrankedItem,
    VerifyOut,
)
from services.scoring.scheme import SchemeDocument
from services.scoring.tally import DEPARTMENT, FLAG_NAMES, TEAM, Tally, decode_unit, has_data
from shared.auth import Principal, actor_of, require_city_admin
from shared.errors import Forbidden, InvalidInput, field_error
from shared.pagination import Page, decode_cursor, next_cursor
from shared.queue import LONG_QUEUE, enqueue_after_commit
from shared.views import Rows, RowWith

DEFAULT_SCHEME_NAME = "默认方案 (SPEC §7 defaults)"
SYSTEM = "system:scoring"
# Periods with more requests than this are computed on the long queue unless the caller says otherwise.
INLINE_MAX_REQUESTS = 50_000
RUN_TASK = "compute_score_run"
# A running run whose heartbeat is older than this is taken over (its worker died).
STALE_RUN = timedelta(minutes=5)
UNIT_AND_DEPARTMENT = (*UNIT_LEVELS, "department")
CADRE_LEVELS = ("handler", "leader")
ALL_LEVELS = (*UNIT_AND_DEPARTMENT, *CADRE_LEVELS)

Progress = Callable[[str, int, int], Awaitable[None]]


def run_job_id(run_id: int) -> str:
    return f"score_run:{run_id}"


# ---- schemes -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SchemeView(RowWith[ScoringScheme]):
    """A scheme version, and whether it is the newest (`SchemeOut`)."""

    current: bool


async def current_scheme(session: AsyncSession) -> ScoringScheme:
    """The newest scheme version; version 1 (the SPEC defaults) is written the first time one is needed."""
    latest = await repo.latest_scheme(session)
    if latest is None:
        await repo.insert_scheme(
            session,
            version=1,
            name=DEFAULT_SCHEME_NAME,
            notes="Weights, points and thresholds as SPEC §7 states them.",
            document=SchemeDocument().model_dump(mode="json"),
            created_by=SYSTEM,
        )
        latest = await repo.latest_scheme(session)
        assert latest is not None
    return latest


async def create_scheme(session: AsyncSession, principal: Principal, data: SchemeCreate) -> SchemeView:
    """A new version: schemes are never edited, so every stored score keeps meaning what it meant."""
    require_city_admin(principal)
    latest = await current_scheme(session)
    document = data.document.model_dump(mode="json")
    if not await repo.insert_scheme(
        session,
        version=latest.version + 1,
        name=data.name,
        notes=data.notes,
        document=document,
        created_by=actor_of(principal),
    ):
        raise SchemeVersionTaken("Another scheme version was created at the same moment; send it again")
    created = await repo.scheme(session, latest.version + 1)
    assert created is not None
    return SchemeView(created, current=True)


async def list_schemes(session: AsyncSession, cursor: str | None, limit: int) -> Rows[SchemeView]:
    current = await current_scheme(session)
    schemes = await repo.schemes_page(session, decode_cursor(cursor), limit)
    items = [SchemeView(s, current=s.version == current.version) for s in schemes]
    return Rows(items, next_cursor([s.version for s in schemes], limit))


async def get_scheme(session: AsyncSession, version: int) -> SchemeView:
    current = await current_scheme(session)
    scheme = await repo.scheme(session, version)
    if scheme is None:
        raise SchemeNotFound(f"No scoring scheme version {version}")
    return SchemeView(scheme, current=scheme.version == current.version)


async def _scheme_document(session: AsyncSession, version: int) -> SchemeDocument:
    scheme = await repo.scheme(session, version)
    if scheme is None:
        raise SchemeNotFound(f"No scoring scheme version {version}")
    return SchemeDocument.model_validate(scheme.document)


# ---- runs ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunSpec:
    """What a run computes: a period, as of a time, under a scheme."""

    run_id: int
    period: Period
    as_of: datetime
    scheme_version: int
    scheme: SchemeDocument
    # Appeal decisions counted up to this time (None: as_of); later than as_of for a corrected run.
    appeals_as_of: datetime | None = None
    # The org rows counted are those recorded by this time, each as it was at as_of (None: now).
    known_by: datetime | None = None


def _spec_of(run: ScoreRun, scheme: SchemeDocument) -> RunSpec:
    return RunSpec(
        run.id,
        parse_period(run.period),
        run.as_of,
        run.scheme_version,
        scheme,
        run.appeals_as_of,
        run.known_by or run.created_at,
    )


def _as_of(value: datetime | None, period: Period, now: datetime) -> datetime:
    if value is None:
        return now
    try:
        as_of = value.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise InvalidInput("as_of is out of range", errors=[field_error("as_of", "out of range")]) from exc
    if as_of > now:
        raise InvalidInput("as_of cannot be in the future", errors=[field_error("as_of", "in the future")])
    if as_of < period.start:
        raise InvalidInput(
            "as_of is before the period starts: nothing to score", errors=[field_error("as_of", "before the period")]
        )
    return as_of


async def create_run(
    session: AsyncSession, principal: Principal, data: RunCreate, *, now: datetime | None = None
) -> tuple[ScoreRun, RunSpec]:
    """Record a run; a large period (or `background`) is enqueued on the long queue after commit."""
    period = parse_period(data.period)
    now = now or datetime.now(UTC)
    as_of = _as_of(data.as_of, period, now)
    if data.scheme_version is None:
        scheme_row = await current_scheme(session)
    else:
        await current_scheme(session)  # version 1 exists once anything asks
        found = await repo.scheme(session, data.scheme_version)
        if found is None:
            raise InvalidInput(
                f"No scoring scheme version {data.scheme_version}",
                errors=[field_error("scheme_version", "unknown version")],
            )
        scheme_row = found
    background = data.background
    if background is None:
        size = await repo.cohort_size_upto(session, period.start, period.end, as_of, INLINE_MAX_REQUESTS + 1)
        background = size > INLINE_MAX_REQUESTS
    run = ScoreRun(
        period=period.text,
        period_start=period.start,
        period_end=period.end,
        as_of=as_of,
        scheme_version=scheme_row.version,
        status="queued",
        mode="queued" if background else "inline",
        phase="queued",
        progress=0.0,
        chunks_total=len([m for m in period.months() if m.start <= as_of]),
        requested_by=f"{'staff' if principal.is_staff else 'key'}:{principal.id}",
        known_by=now,
    )
    session.add(run)
    await session.flush()
    if background:
        run.job_id = run_job_id(run.id)
        enqueue_after_commit(session, RUN_TASK, run.id, job_id=run.job_id, queue=LONG_QUEUE)
    spec = RunSpec(
        run.id, period, as_of, scheme_row.version, SchemeDocument.model_validate(scheme_row.document), known_by=now
    )
    return run, spec


async def _load_org(snapshot: AsyncSession, as_of: datetime, known_by: datetime) -> OrgData:
    """The org tree, teams, departments and memberships as they were at as_of (`services.org.history`)."""
    units = {
        row.id: UnitInfo(row.id, row.code, row.name, row.level, row.parent_id, row.path)
        for row in await repo.org_units(snapshot, as_of, known_by)
    }
    members: dict[int, list[tuple[int | None, int | None, str]]] = {}
    for row in await repo.members(snapshot, as_of, known_by):
        members.setdefault(row.staff_id, []).append((row.team_id, row.department_id, row.team_role))
    return OrgData(
        units=units,
        teams={row.id: (row.grid_unit_id, row.name) for row in await repo.teams(snapshot, as_of, known_by)},
        departments={
            row.id: DepartmentInfo(row.id, row.code, row.name, row.scope_unit_id)
            for row in await repo.departments(snapshot, as_of, known_by)
        },
        members=members,
    )


@dataclass(slots=True)
class Computed:
    computation: Computation
    cohort_size: int
    # The cohort's grouped rows with their requests (`repository.cohort_facts`), kept with the run.
    facts: list[Any] = field(default_factory=list)

    @property
    def rows(self) -> list[ResultRow]:
        return self.computation.rows


async def gather(
    snapshot: AsyncSession,
    period: Period,
    as_of: datetime,
    progress: Progress | None = None,
    appeals_as_of: datetime | None = None,
    known_by: datetime | None = None,
    facts: list[Any] | None = None,
) -> tuple[Tally, OrgData, Extras]:
    """Everything a run counts, read in one snapshot, as it was at as_of: the cohort month by month (its
    grouped rows also appended to `facts` when given), then the rest (appeal decisions up to `appeals_as_of`,
    by default `as_of`; org rows recorded by `known_by`, by default now)."""
    appeals_cut = appeals_as_of or as_of
    known_by = known_by or datetime.now(UTC)
    await repo.tune_for_aggregation(snapshot)
    org = await _load_org(snapshot, as_of, known_by)
    tally = Tally()
    months = [m for m in period.months() if m.start <= as_of]
    with_appeals = await repo.any_appeal_approved(snapshot, appeals_cut)
    for done, month in enumerate(months, start=1):
        bounds = await repo.cohort_id_bounds(snapshot, month.start, month.end, as_of)
        if bounds is not None:
            rows = await repo.cohort_facts(
                snapshot, month.start, month.end, as_of, bounds, with_appeals=with_appeals, appeals_as_of=appeals_cut
            )
            tally.add_facts(rows)
            if facts is not None:
                facts.extend(rows)
        if progress is not None:
            await progress("aggregating", done, len(months))
    extras = Extras(
        appealed=[
            (row.request_id, row.team_id, row.department_id)
            for row in await repo.appealed_requests(snapshot, period.start, period.end, as_of, appeals_cut)
        ],
        assessments={
            key: (mean.count, mean.total)
            for key, mean in (await repo.assessments(snapshot, period.text, as_of)).items()
        },
        visits=[
            (row.staff_id, row.org_unit_id, row.kind, int(row.n), int(row.households or 0))
            for row in await repo.visits(snapshot, period.start, period.end, as_of)
        ],
        links=await repo.leader_links(snapshot, as_of, known_by),
    )
    staff = await repo.staff(snapshot, sorted(staff_ids_needed(tally, org, extras)), as_of, known_by)
    extras.staff = {}
    for staff_id, row in staff.items():
        scope = org.units.get(row.scope_unit_id)
        if scope is not None:
            extras.staff[staff_id] = StaffInfo(staff_id, row.display_name, scope.code, scope.path)
    return tally, org, extras


async def compute_run(snapshot: AsyncSession, spec: RunSpec, progress: Progress | None = None) -> Computed:
    """Compute every result of a run from the raw data (nothing is written)."""
    facts: list[Any] = []
    tally, org, extras = await gather(
        snapshot, spec.period, spec.as_of, progress, spec.appeals_as_of, spec.known_by, facts
    )
    if progress is not None:
        await progress("computing", len(spec.period.months()), len(spec.period.months()))
    return Computed(compute(tally, org, extras, spec.scheme, spec.period), tally.cohort, facts)


async def store_run(session: AsyncSession, run_id: int, computed: Computed, now: datetime | None = None) -> None:
    """Write the run's results and mark it done, in the caller's transaction."""
    await repo.replace_results(session, run_id, [row.as_dict() for row in computed.rows])
    await repo.replace_facts(session, run_id, computed.facts)
    now = now or datetime.now(UTC)
    await repo.touch_run(
        session,
        run_id,
        status="done",
        phase="done",
        progress=1.0,
        chunks_done=ScoreRun.chunks_total,
        cohort_size=computed.cohort_size,
        results=len(computed.rows),
        summary=computed.computation.summary,
        error=None,
        heartbeat_at=now,
        finished_at=now,
        facts_kept=True,
    )
    await finish_correction(session, run_id, now)


async def run_inline(session: AsyncSession, snapshot: AsyncSession, run: ScoreRun, spec: RunSpec) -> None:
    """Compute and store a small run within the request."""
    now = datetime.now(UTC)
    run.status, run.phase, run.started_at, run.heartbeat_at = "running", "aggregating", now, now
    await session.flush()
    computed = await compute_run(snapshot, spec)
    await store_run(session, run.id, computed)
    await session.refresh(run)


async def claim_run(session: AsyncSession, run_id: int, now: datetime | None = None) -> RunSpec | None:
    """Take a queued run (or one whose worker died) for this worker; None when there is nothing to do."""
    now = now or datetime.now(UTC)
    run = await session.get(ScoreRun, run_id, with_for_update=True, populate_existing=True)
    if run is None or run.status == "done":
        return None
    if run.status == "running" and run.heartbeat_at is not None and now - run.heartbeat_at < STALE_RUN:
        return None
    run.status, run.phase, run.error = "running", "loading", None
    run.started_at = run.heartbeat_at = now
    run.chunks_done, run.progress = 0, 0.0
    return _spec_of(run, await _scheme_document(session, run.scheme_version))


async def record_progress(session: AsyncSession, run_id: int, phase: str, done: int, total: int) -> None:
    """Progress of a running run: aggregating the months is most of the work (90%)."""
    fraction = 0.9 * done / total if total else 0.0
    if phase != "aggregating":
        fraction = 0.9 if phase == "computing" else 0.95
    await repo.touch_run(
        session,
        run_id,
        phase=phase,
        chunks_done=done,
        progress=min(fraction, 0.99),
        heartbeat_at=datetime.now(UTC),
    )


async def fail_run(session: AsyncSession, run_id: int, error: str) -> None:
    now = datetime.now(UTC)
    await repo.touch_run(
        session, run_id, status="failed", phase="failed", error=error[:2000], heartbeat_at=now, finished_at=now
    )


async def get_run(session: AsyncSession, run_id: int) -> ScoreRun:
    run = await session.get(ScoreRun, run_id)
    if run is None:
        raise RunNotFound(f"No score run {run_id}")
    return run


async def list_runs(session: AsyncSession, period: str | None, cursor: str | None, limit: int) -> Rows[ScoreRun]:
    if period is not None:
        parse_period(period, ["query", "period"])
    runs = await repo.runs_page(session, period, decode_cursor(cursor), limit)
    return Rows(runs, next_cursor([r.id for r in runs], limit))


VERIFY_LIMIT = 50
_SCALARS = ("name", "parent_code", "path")


async def verify_run(session: AsyncSession, snapshot: AsyncSession, run_id: int) -> VerifyOut:
    """Recompute a finished run from the raw data at its as_of under its scheme, and compare every value;
    when the run kept its facts, name the requests whose facts moved (what it counted, what it counts now)."""
    run = await get_run(session, run_id)
    if run.status != "done":
        raise RunNotFinished(f"Run {run_id} is {run.status}; only a finished run can be verified")
    spec = _spec_of(run, await _scheme_document(session, run.scheme_version))
    computed = await compute_run(snapshot, spec)
    stored = {
        (r.level, r.subject_code): r for r in await repo.results(session, run.id, levels=ALL_LEVELS, scope_path="/")
    }
    differences: list[Difference] = []
    fresh = {(r.level, r.subject_code): r for r in computed.rows}
    order = {level: i for i, level in enumerate(ALL_LEVELS)}
    for key in sorted(set(stored) | set(fresh), key=lambda k: (order.get(k[0], len(order)), k[1])):
        level, code = key
        if key not in stored or key not in fresh:
            where = "recomputation" if key in fresh else "stored run"
            differences.append(Difference(level=level, code=code, detail=f"only in the {where}"))
            continue
        old, new = stored[key], fresh[key]
        found: list[Difference] = []
        for name in _SCALARS[:3]:
            found.extend(_value_differences(level, code, name, getattr(old, name), getattr(new, name)))
        # The figures people read first (rank, scores, each rate's value, every count), then any other part.
        found.extend(_value_differences(level, code, None, _figure_values(old), _figure_values(new)))
        if not found and old.figures != new.figures:
            found.extend(_value_differences(level, code, None, old.figures, new.figures))
        differences.extend(found)
    if run.summary != computed.computation.summary:
        differences.extend(_value_differences("run", str(run.id), "summary", run.summary, computed.computation.summary))
    moved: list[MovedFact] = []
    if run.facts_kept:
        moved = moved_facts(await repo.facts(session, run.id), computed.facts)[:VERIFY_LIMIT]
        numbers = await repo.tracking_numbers(session, sorted({m.request_id for m in moved}))
        for fact in moved:
            fact.tracking_no = numbers.get(fact.request_id)
    return VerifyOut(
        run_id=run.id,
        matches=not differences,
        compared=len(fresh),
        differences=differences[:VERIFY_LIMIT],
        differences_total=len(differences),
        requests_moved=moved,
        facts_kept=run.facts_kept,
    )


def _value_differences(level: str, code: str, path: str | None, old: Any, new: Any) -> list[Difference]:
    """Every leaf where two values differ, by its path (`rates.response_rate.value`)."""
    if isinstance(old, dict) and isinstance(new, dict):
        found: list[Difference] = []
        for key in sorted(set(old) | set(new), key=str):
            found.extend(
                _value_differences(level, code, f"{path}.{key}" if path else str(key), old.get(key), new.get(key))
            )
        return found
    if old == new:
        return []
    figure = path or "value"
    return [Difference(level=level, code=code, figure=figure, old=old, new=new, detail=f"{figure}: {old!r} ≠ {new!r}")]


_HOLDERS = ("response_unit", "response_handler", "final_unit", "final_handler", "assignment_unit", "assignment_handler")
FactKey = tuple[Any, ...]


def _members(rows: Iterable[Sequence[Any]]) -> dict[tuple[int, int], tuple[FactKey, int]]:
    """Every row of the cohort, (request, routing number), with the key of its group (category, holders) and
    its flags, from `cohort_facts` rows or kept facts (the rows' text last: `id[.routing_no]:flags`)."""
    members: dict[tuple[int, int], tuple[FactKey, int]] = {}
    for row in rows:
        key = tuple(row[:7])
        for member in row[-1].split(","):
            ident, _, flags = member.partition(":")
            request_id, _, routing_no = ident.partition(".")
            members[int(request_id), int(routing_no or 1)] = (key, int(flags))
    return members


def _holder(value: int | None, handler: bool) -> str | None:
    if value is None:
        return None
    if handler:
        return f"staff {value}"
    kind, key = decode_unit(value)
    return {TEAM: "team", DEPARTMENT: "department"}.get(kind, "dispatch centre of unit") + f" {key}"


def moved_facts(kept: Iterable[Sequence[Any]], fresh: Iterable[Sequence[Any]]) -> list[MovedFact]:
    """Which requests give other facts than a run counted: `kept` as the run stored them (`repository.facts`),
    `fresh` from a recomputation (`repository.cohort_facts` rows); groups whose text is the same are skipped
    whole, so only the groups that differ are read request by request."""
    kept_groups = {tuple(row[:7]): row[-1] for row in kept}
    fresh_groups = {tuple(row[:7]): row[-1] for row in fresh}
    differing = {key for key in set(kept_groups) | set(fresh_groups) if kept_groups.get(key) != fresh_groups.get(key)}
    was = _members((*key, kept_groups[key]) for key in differing if key in kept_groups)
    now = _members((*key, fresh_groups[key]) for key in differing if key in fresh_groups)
    moved: list[MovedFact] = []
    for request_id, routing_no in sorted(set(was) | set(now)):
        old, new = was.get((request_id, routing_no)), now.get((request_id, routing_no))
        if old == new:
            continue  # the same row, listed in another order
        facts: list[tuple[str, Any, Any]] = []
        if old is None or new is None:
            facts.append(("in_cohort", old is not None, new is not None))
        else:
            (old_key, old_flags), (new_key, new_flags) = old, new
            if old_key[0] != new_key[0]:
                facts.append(("category", old_key[0], new_key[0]))
            for i, name in enumerate(_HOLDERS, start=1):
                if old_key[i] != new_key[i]:
                    handler = name.endswith("_handler")
                    facts.append((name, _holder(old_key[i], handler), _holder(new_key[i], handler)))
            for bit, name in enumerate(FLAG_NAMES):
                if (old_flags >> bit & 1) != (new_flags >> bit & 1):
                    facts.append((name, old_flags >> bit & 1, new_flags >> bit & 1))
        moved.extend(
            MovedFact(request_id=request_id, routing_no=routing_no, fact=fact, old=o, new=n) for fact, o, n in facts
        )
    return moved


# ---- publication (公示) and corrections ---------------------------------------------------------------

# What a correction compares, per subject: the rank, the scores, each rate's value and every count.
MAX_CHANGES = 2000


def _figure_values(row: ScoreResult | ResultRow) -> dict[str, Any]:
    values: dict[str, Any] = {
        "rank": row.rank,
        "three_rate_score": row.three_rate_score,
        "satisfaction_index": row.satisfaction_index,
        "cadre_score": row.cadre_score,
    }
    for rate in RATE_NAMES:
        values[rate] = figures.rate_value(row.figures, rate, "value")
    counts = row.figures.get("counts")
    if counts:
        for name, count in figures.unpack_counts(counts).items():
            values[f"counts.{name}"] = count
    return values


async def run_changes(session: AsyncSession, old_run_id: int, new_run_id: int) -> list[dict[str, Any]]:
    """What differs between two runs' results: `{level, code, name, figure, old, new}`, by subject."""
    old = {
        (r.level, r.subject_code): r for r in await repo.results(session, old_run_id, levels=ALL_LEVELS, scope_path="/")
    }
    new = {
        (r.level, r.subject_code): r for r in await repo.results(session, new_run_id, levels=ALL_LEVELS, scope_path="/")
    }
    changes: list[dict[str, Any]] = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        old_values = _figure_values(before) if before is not None else {}
        new_values = _figure_values(after) if after is not None else {}
        subject = after if after is not None else before
        assert subject is not None
        for figure in dict.fromkeys([*old_values, *new_values]):
            if old_values.get(figure) != new_values.get(figure):
                changes.append(
                    {
                        "level": key[0],
                        "code": key[1],
                        "name": subject.name,
                        "figure": figure,
                        "old": old_values.get(figure),
                        "new": new_values.get(figure),
                    }
                )
    return changes


async def create_correction(session: AsyncSession, run: ScoreRun, appeals_as_of: datetime, actor: str) -> ScoreRun:
    """A corrected run of a published one: same period, as_of and scheme, counting the appeal decisions made up
    to `appeals_as_of`; computed on the long queue after commit and published when it finishes."""
    correction = ScoreRun(
        period=run.period,
        period_start=run.period_start,
        period_end=run.period_end,
        as_of=run.as_of,
        scheme_version=run.scheme_version,
        status="queued",
        mode="queued",
        phase="queued",
        progress=0.0,
        chunks_total=run.chunks_total,
        requested_by=actor,
        corrects_run_id=run.id,
        appeals_as_of=max(appeals_as_of, run.appeals_as_of or run.as_of),
        known_by=run.known_by or run.created_at,
    )
    session.add(correction)
    await session.flush()
    correction.job_id = run_job_id(correction.id)
    enqueue_after_commit(session, RUN_TASK, correction.id, job_id=correction.job_id, queue=LONG_QUEUE)
    return correction


async def correct_public_runs(session: AsyncSession, request_id: int, decided_at: datetime, actor: str) -> list[int]:
    """After an appeal about `request_id` was approved or revoked at `decided_at`: a corrected run of every
    published run (the one the public reads, per period) whose cohort holds the request and which counted
    the decisions only up to before then. Answers the corrected runs' ids."""
    created = []
    for run in await repo.public_runs_of_request(session, request_id):
        if (run.appeals_as_of or run.as_of) < decided_at:
            created.append((await create_correction(session, run, decided_at, actor)).id)
    return created


async def finish_correction(session: AsyncSession, run_id: int, now: datetime) -> None:
    """A corrected run that just finished: list what it changed, link the two, and publish it (republish)."""
    run = await session.get(ScoreRun, run_id, populate_existing=True)
    if run is None or run.corrects_run_id is None or run.published_at is not None:
        return
    original = await session.get(ScoreRun, run.corrects_run_id, with_for_update=True, populate_existing=True)
    changes = await run_changes(session, run.corrects_run_id, run.id) if original is not None else []
    run.changes = changes[:MAX_CHANGES]
    run.published_at, run.published_by = now, SYSTEM
    if original is not None and (original.superseded_by_id is None or original.superseded_by_id < run.id):
        original.superseded_by_id = run.id
    await session.flush()


async def _publish(session: AsyncSession, run: ScoreRun, actor: str, now: datetime) -> None:
    run.published_at, run.published_by = now, actor
    await session.flush()
    # Decisions made after the run's as_of and before its publication: correct it at once.
    if run.corrects_run_id is None and await repo.appeals_decided_since(session, run):
        await create_correction(session, run, now, SYSTEM)


async def publish_run(session: AsyncSession, principal: Principal, run_id: int) -> ScoreRun:
    """Publish a finished run (公示): from now on `/v1/public/...` may show it. Supervisors and admins scoped
    to the whole city; once (409 after)."""
    if principal.scope_path.count("/") != 2:
        raise Forbidden("Only a supervisor or admin scoped to the whole city publishes scores")
    run = await session.get(ScoreRun, run_id, with_for_update=True, populate_existing=True)
    if run is None:
        raise RunNotFound(f"No score run {run_id}")
    if run.status != "done":
        raise RunNotFinished(f"Run {run_id} is {run.status}; only a finished run can be published")
    if run.published_at is not None:
        raise RunAlreadyPublished(f"Run {run_id} was published at {run.published_at.isoformat()} by {run.published_by}")
    await _publish(session, run, actor_of(principal), datetime.now(UTC))
    await audit.record(
        session,
        principal,
        "score_run.published",
        "score_run",
        run.id,
        after={"period": run.period, "as_of": run.as_of, "scheme_version": run.scheme_version},
    )
    await session.refresh(run)
    return run


async def publish_due_runs(session: AsyncSession, now: datetime | None = None) -> list[int]:
    """Publish the finished runs whose scheme sets `publish_after_days` and whose delay has passed."""
    now = now or datetime.now(UTC)
    published = []
    for run_id in await repo.runs_due_for_publication(session, now):
        run = await session.get(ScoreRun, run_id, with_for_update=True, populate_existing=True)
        if run is None or run.published_at is not None or run.status != "done":
            continue
        await _publish(session, run, "system:auto_publish", now)
        published.append(run_id)
    return published


async def _public_run(session: AsyncSession, period: str) -> ScoreRun:
    """The run the public reads: the period's published run with the latest as_of (a correction replaces the
    run it corrects)."""
    parse_period(period, ["query", "period"])
    run = await repo.latest_published_run(session, period)
    if run is None:
        raise ScoresNotFound(f"No published scores for {period} yet")
    return run


def _public_fields(run: ScoreRun) -> dict[str, Any]:
    """What a public page says about its run: which it is, when it was published, what a correction changed
    (units' public figures only: nothing about people)."""
    public = set(PUBLIC_FIGURES)
    changes = [
        PublicChange.model_validate(c) for c in run.changes or [] if c["level"] in UNIT_LEVELS and c["figure"] in public
    ]
    return {
        "period": run.period,
        "run_id": run.id,
        "as_of": run.as_of,
        "scheme_version": run.scheme_version,
        "published_at": run.published_at,
        "corrects_run_id": run.corrects_run_id,
        "changes": changes,
    }


# ---- reading scores ------------------------------------------------------------------------------


async def _run_for(session: AsyncSession, period: str, run_id: int | None) -> ScoreRun:
    """The run to read: the one named (finished, of that period), else the period's latest finished run."""
    parse_period(period, ["query", "period"])
    if run_id is not None:
        run = await session.get(ScoreRun, run_id)
        if run is None or run.period != period or run.status != "done":
            raise ScoresNotFound(f"No finished score run {run_id} for period {period}")
        return run
    latest = await repo.latest_done_run(session, period)
    if latest is None:
        raise ScoresNotFound(f"No scores for {period} yet: start a run with POST /v1/scores/runs")
    return latest


def _run_fields(run: ScoreRun) -> dict[str, Any]:
    return {"run_id": run.id, "period": run.period, "as_of": run.as_of, "scheme_version": run.scheme_version}


def formulas(scheme: SchemeDocument) -> dict[str, str]:
    """How every number of a breakdown is made, with this scheme's weights and points."""
    w = scheme.three_rate_weights
    p = scheme.satisfaction_points
    i = scheme.satisfaction_index_weights
    return {
        "response_rate": "accepted by respond_by / (accepted, or respond_by passed), counted for whoever held the "
        "request when it was accepted or when respond_by passed (a dispatch centre too)",
        "resolution_rate": "latest evaluation says resolved / requests evaluated (closed as no evaluation: excluded), "
        "counted for the final lead handling unit",
        "satisfaction_rate": f"Σ points / requests evaluated; satisfied {p.satisfied:g}, basically satisfied "
        f"{p.basically_satisfied:g}, dissatisfied {p.dissatisfied:g}",
        "on_time_resolution_rate": "resolved by resolve_by / (resolved, or resolve_by passed while not suspended)",
        "reopen_rate": "first evaluation negative (reopened, 重办) / requests with a first evaluation",
        "return_rate": "dispatches returned / dispatches to the unit (counted against the unit that returned)",
        "no_evaluation_share": "closed as no evaluation / (evaluated + closed as no evaluation)",
        "interval": f"Wilson score interval at {scheme.interval.confidence:g} confidence",
        "shrunk": "(successes + prior mean × strength) / (n + strength), null when n = 0 (the prior never stands "
        "in for missing data); the prior is fitted per level by the standard beta-binomial moment estimator "
        "(Kleinman 1973: ρ = (S/(μ(1−μ)) − (k−1)) / (N − Σn²/N − (k−1)), strength = 1/ρ − 1), or strength "
        f"{scheme.shrinkage.fallback_strength:g} at the level mean when fewer than {scheme.shrinkage.min_units} "
        "units have data",
        "adjusted": "value − expected + city mean; expected = Σ_c n_c × city rate of category c / n",
        "three_rate_score": f"100 × ({w.response:g}·response + {w.resolution:g}·resolution + "
        f"{w.satisfaction:g}·satisfaction) on shrunk rates (raw: on raw rates); weights renormalised over rates present",
        "satisfaction_index": f"{i.residents:g}·residents + {i.resident_organisations:g}·resident organisations + "
        f"{i.public_opinion:g}·public opinion; residents = shrunk satisfaction × 100, the others the mean of the "
        "period's assessments; missing components renormalise the weights",
        "counts": "Σ of sources: child units, plus the grid team, departments or dispatch centre attached here",
    }


def _breakdown(run: ScoreRun, row: ScoreResult, scheme: SchemeDocument) -> Breakdown:
    """The stored breakdown, completed with what the run's subjects share: the level's priors and the city's
    per-category baselines."""
    stored = row.figures["breakdown"]
    summary = run.summary or {}
    baselines = summary.get("baselines", {})
    categories = [
        {
            "category": category,
            "n": dict(zip(RATE_NAMES, n, strict=True)),
            "baseline": {rate: baselines.get(rate, {}).get(category) for rate in RATE_NAMES},
        }
        for category, n in stored["case_mix_n"].items()
    ]
    return Breakdown.model_validate(
        {
            "sources": figures.sources(row.figures),
            "priors": summary.get("priors", {}).get(row.level, {}),
            "shrinkage": figures.shrinkage(row.figures, summary.get("priors", {}).get(row.level) or {}),
            "case_mix": {"city_mean": summary.get("city_means", {}), "categories": categories},
            "appeals": stored["appeals"],
            "scheme": scheme,
            "formulas": formulas(scheme),
        }
    )


def _unit_score(run: ScoreRun, row: ScoreResult, scheme: SchemeDocument) -> UnitScore:
    return UnitScore.model_validate({**figures.unit_answer(row.figures, scheme), **_run_fields(run)})


def _cadre(run: ScoreRun, row: ScoreResult, scheme: SchemeDocument) -> CadreScore:
    return CadreScore.model_validate({**figures.cadre_answer(row.figures, scheme), **_run_fields(run)})


async def unit_scores(
    session: AsyncSession,
    principal: Principal,
    *,
    period: str,
    run_id: int | None,
    levels: tuple[str, ...],
    parent_code: str | None,
    cursor: str | None,
    limit: int,
) -> Page[UnitScore]:
    run = await _run_for(session, period, run_id)
    rows = await repo.results(
        session,
        run.id,
        levels=levels,
        scope_path=principal.scope_path,
        parent_code=parent_code,
        after_id=decode_cursor(cursor),
        limit=limit,
    )
    scheme = await _scheme_document(session, run.scheme_version)
    return Page(
        items=[_unit_score(run, row, scheme) for row in rows], next_cursor=next_cursor([r.id for r in rows], limit)
    )


async def unit_score(
    session: AsyncSession, principal: Principal, *, code: str, period: str, run_id: int | None, department: bool
) -> UnitScoreDetail:
    """One unit's (or department's) scores with the breakdown that explains them; 404 outside scope."""
    run = await _run_for(session, period, run_id)
    levels = ("department",) if department else UNIT_LEVELS
    row = await repo.result(session, run.id, levels, code)
    if row is None or not principal.covers(row.path):
        kind = "department" if department else "unit"
        raise ScoresNotFound(f"No scores for {kind} {code!r} in {period}")
    scheme = await _scheme_document(session, run.scheme_version)
    detail = {**figures.unit_answer(row.figures, scheme), **_run_fields(run), "breakdown": _breakdown(run, row, scheme)}
    return UnitScoreDetail.model_validate(detail)


async def unit_score_rows(
    session: AsyncSession, principal: Principal, *, period: str, run_id: int | None, levels: tuple[str, ...]
) -> tuple[ScoreRun, list[UnitScore]]:
    """Every unit score in scope (CSV export)."""
    run = await _run_for(session, period, run_id)
    rows = await repo.results(session, run.id, levels=levels, scope_path=principal.scope_path)
    scheme = await _scheme_document(session, run.scheme_version)
    return run, [_unit_score(run, row, scheme) for row in rows]


async def cadre_scores(
    session: AsyncSession,
    principal: Principal,
    *,
    period: str,
    run_id: int | None,
    kinds: tuple[str, ...],
    cursor: str | None,
    limit: int,
) -> Page[CadreScore]:
    run = await _run_for(session, period, run_id)
    rows = await repo.results(
        session, run.id, levels=kinds, scope_path=principal.scope_path, after_id=decode_cursor(cursor), limit=limit
    )
    scheme = await _scheme_document(session, run.scheme_version)
    items = [_cadre(run, row, scheme) for row in rows]
    return Page(items=items, next_cursor=next_cursor([r.id for r in rows], limit))


async def cadre_score(
    session: AsyncSession, principal: Principal, *, staff_id: int, kind: str, period: str, run_id: int | None
) -> CadreScore:
    run = await _run_for(session, period, run_id)
    row = await repo.result(session, run.id, (kind,), str(staff_id))
    if row is None or not principal.covers(row.path):
        raise ScoresNotFound(f"No {kind} scores for staff {staff_id} in {period}")
    return _cadre(run, row, await _scheme_document(session, run.scheme_version))


RATE_METRICS = frozenset(
    {
        "response_rate",
        "resolution_rate",
        "satisfaction_rate",
        "on_time_resolution_rate",
        "reopen_rate",
        "return_rate",
        "no_evaluation_share",
    }
)
LOWER_IS_BETTER = frozenset({"reopen_rate", "return_rate", "no_evaluation_share"})


def _metric_value(row: ScoreResult, metric: str) -> tuple[float | None, int | None]:
    """A result's value on a ranking metric (rates: the shrunk value, for those with n > 0)."""
    if metric in RATE_METRICS:
        n = figures.rate_value(row.figures, metric, "n")
        if not n:
            return None, 0
        return figures.rate_value(row.figures, metric, "shrunk"), int(n)
    if metric == "cadre_score":
        return row.cadre_score, None
    if row.level in CADRE_LEVELS:
        return (row.three_rate_score if metric == "three_rate_score" else None), None
    if not has_data(row.figures["counts"]):
        return None, None
    return (row.three_rate_score if metric == "three_rate_score" else row.satisfaction_index), None


async def rankings(
    session: AsyncSession,
    principal: Principal,
    *,
    period: str,
    run_id: int | None,
    level: str,
    metric: str,
    limit: int,
) -> RankingOut:
    """Rank the level's subjects city-wide on a metric (shrunk values); show those in the caller's scope."""
    if metric == "cadre_score" and level not in CADRE_LEVELS:
        raise InvalidInput(
            "cadre_score ranks handlers and leaders",
            errors=[field_error(["query", "metric"], "cadre_score needs level handler or leader")],
        )
    if level == "leader" and metric != "cadre_score":
        raise InvalidInput(
            "Leaders are ranked on cadre_score",
            errors=[field_error(["query", "metric"], "leaders are ranked on cadre_score")],
        )
    run = await _run_for(session, period, run_id)
    rows = await repo.results(session, run.id, levels=(level,), scope_path="/")
    values = {row.subject_code: _metric_value(row, metric) for row in rows}
    descending = metric not in LOWER_IS_BETTER
    ranks = competition_ranks([(code, value) for code, (value, _) in values.items()], descending=descending)
    visible = [row for row in rows if row.subject_code in ranks and principal.covers(row.path)]
    visible.sort(key=lambda r: (ranks[r.subject_code], r.subject_code))
    # Ranks come from the exact values; the values shown are rounded as the scheme says.
    show = (await _scheme_document(session, run.scheme_version)).rounding
    shown = show.rate if metric in RATE_METRICS else show.score
    items = [
        RankingItem(
            rank=ranks[row.subject_code],
            level=row.level,
            code=row.subject_code,
            name=row.name,
            parent_code=row.parent_code,
            value=float(shown(values[row.subject_code][0])),  # type: ignore[arg-type]
            n=values[row.subject_code][1],
        )
        for row in visible[:limit]
    ]
    unranked = [row for row in rows if row.subject_code not in ranks and principal.covers(row.path)]
    return RankingOut(
        **_run_fields(run),
        level=level,
        metric=metric,
        order="desc" if descending else "asc",
        ranked=len(ranks),
        items=items,
        unranked_total=len(unranked),
        unranked=[unranked_item(row, metric) for row in unranked[:limit]],
    )


def unranked_item(row: ScoreResult, metric: str) -> UnrankedItem:
    """A subject with no value for the metric: listed apart from the ranking, with the reason."""
    if metric in RATE_METRICS:
        reason = figures.NO_DATA[metric]
    elif row.level in CADRE_LEVELS:
        reason = figures.CADRE_UNRANKED[row.level] if metric == "cadre_score" else figures.UNIT_UNRANKED
    else:
        reason = figures.UNIT_UNRANKED
    return UnrankedItem(
        level=row.level, code=row.subject_code, name=row.name, parent_code=row.parent_code, reason=reason
    )


# ---- public disclosure (公示) ---------------------------------------------------------------------


async def public_units(
    session: AsyncSession, *, period: str, levels: tuple[str, ...], cursor: str | None, limit: int
) -> PublicUnitsPage:
    """The three rates, satisfaction index and rank of units: no names of people, no free text."""
    run = await _public_run(session, period)
    rows = await repo.results(
        session, run.id, levels=levels, scope_path="/", after_id=decode_cursor(cursor), limit=limit
    )
    scheme = await _scheme_document(session, run.scheme_version)
    shown = [PublicUnitScore.model_validate(figures.public_unit(row.figures, row, scheme)) for row in rows]
    return PublicUnitsPage(
        **_public_fields(run),
        # Units with no data have no figures and no rank: listed apart, never among the ranked.
        items=[item for item in shown if item.rank is not None],
        unranked=[item for item in shown if item.rank is None],
        next_cursor=next_cursor([r.id for r in rows], limit),
    )


async def public_leader_contacts(session: AsyncSession, *, period: str) -> PublicLeaderContactsPage:
    """Leaders' contacts by post (职务) and unit, summed over leaders: counts only, never a name."""
    run = await _public_run(session, period)
    rows = await repo.results(session, run.id, levels=("leader",), scope_path="/")
    grouped: dict[tuple[str, str, str], PublicLeaderContacts] = {}
    for row in rows:
        for link in (row.figures.get("contacts") or {}).get("links", []):
            key = (link["unit_kind"], link["unit_code"], link["post"])
            entry = grouped.get(key)
            if entry is None:
                entry = grouped[key] = PublicLeaderContacts(
                    post=link["post"],
                    unit_kind=link["unit_kind"],
                    unit_code=link["unit_code"],
                    unit_name=link["unit_name"],
                    links=0,
                    quota=0,
                    contacts=0,
                    met=0,
                )
            entry.links += 1
            entry.quota += int(link["quota"])
            entry.contacts += int(link["contacts"])
            entry.met += 1 if link["met"] else 0
    return PublicLeaderContactsPage(
        **_public_fields(run),
        items=[grouped[key] for key in sorted(grouped)],
    )


async def cadre_score_rows(
    session: AsyncSession, principal: Principal, *, period: str, run_id: int | None, kinds: tuple[str, ...]
) -> list[CadreScore]:
    """Every cadre score in scope (CSV export)."""
    run = await _run_for(session, period, run_id)
    rows = await repo.results(session, run.id, levels=kinds, scope_path=principal.scope_path)
    scheme = await _scheme_document(session, run.scheme_version)
    return [_cadre(run, row, scheme) for row in rows]


# Give the after-commit enqueue time to happen before treating a queued run as lost.
RESEND_GRACE = timedelta(seconds=30)


async def runs_to_resend(session: AsyncSession, now: datetime | None = None) -> list[int]:
    """Queued runs whose job Redis may have lost, and running runs whose worker stopped beating."""
    now = now or datetime.now(UTC)
    return await repo.runs_to_resend(session, queued_before=now - RESEND_GRACE, heartbeat_before=now - STALE_RUN)
