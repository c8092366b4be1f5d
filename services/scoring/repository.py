"""Every query of scoring. The cohort aggregates are hand-written SQL: one grouped pass over a month of
requests must stay within seconds at a million rows, so they count in PostgreSQL (integers only: sums of
floats would not add up in the same order twice) and hand Python one row per combination of holders and
category, never one per request.
"""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.models import (
    Department,
    LeaderLink,
    Member,
    OrgUnit,
    Request,
    ScoreAppeal,
    ScoreResult,
    ScoreRun,
    ScoreRunFact,
    ScoringScheme,
    StaffAccount,
    Team,
)
from services.org import history as org_history
from services.scoring.tally import FLAG_NAMES
from shared.db import get_read_engine

# Hash joins and grouping over a month of requests need more than the default 4 MB: the grouping, with
# each group's rows as text, holds about 175 MB at a million requests and spills to disk below this.
SCORING_WORK_MEM = "512MB"

# The scored columns of a request, as its row and each kept version (`request_states`) name them.
_STATE_COLUMNS = (
    "received_at, category_code, duplicate_of_id, routing_no, lead_team_id, lead_department_id, handler_id, "
    "org_unit_id, respond_by, resolve_by, accepted_at, resolved_at, status, suspended_at, close_reason, closed_at"
)

# The requests received in [start, end) by as_of, each in the state it was in at as_of (SPEC §7.5): its row
# when the current state began by then, else the kept version valid at as_of (migration 0010). Later work
# (a return, reassignment, reopen, resumption or reclassification) leaves these rows as they were.
# `{bounds}` narrows the ids (`cohort_id_bounds`) or is empty.
_REQUESTS_AS_OF = f"""(
    SELECT q.id, {_STATE_COLUMNS}
    FROM requests q
    WHERE (q.state_since IS NULL OR q.state_since <= :as_of)
        AND q.received_at >= :start AND q.received_at < :end AND q.received_at <= :as_of {{bounds_q}}
    UNION ALL
    SELECT s.request_id AS id, {_STATE_COLUMNS}
    FROM request_states s
    WHERE (s.valid_from IS NULL OR s.valid_from <= :as_of) AND s.valid_to > :as_of
        AND s.received_at >= :start AND s.received_at < :end AND s.received_at <= :as_of {{bounds_s}}
)"""


def _requests_as_of(bounded: bool) -> str:
    if not bounded:
        return _REQUESTS_AS_OF.format(bounds_q="", bounds_s="")
    return _REQUESTS_AS_OF.format(
        bounds_q="AND q.id BETWEEN :lo AND :hi", bounds_s="AND s.request_id BETWEEN :lo AND :hi"
    )


# The cohort: duplicates excluded (they close with their original and would count it twice).
_COHORT = "r.duplicate_of_id IS NULL"

# Holders are encoded in one bigint: a grid team 4·id, a department 4·id + 1, the dispatch centre of where a
# request is located 4·(located unit id, 0 when unlocated) + 2. Python decodes them (`tally.decode_unit`).
_TEAM_OR_DEPARTMENT = "CASE WHEN {t} IS NOT NULL THEN 4 * {t} WHEN {d} IS NOT NULL THEN 4 * {d} + 1 END"

# An appeal applies to a run when it was approved by the run's appeals cut (its as_of, or later for a corrected
# run) and not revoked by then.
_APPEAL_APPLIES = (
    "ap.status IN ('approved', 'revoked') AND ap.decided_at <= :appeals_as_of "
    "AND (ap.revoked_at IS NULL OR ap.revoked_at > :appeals_as_of)"
)

# Approved appeals by the appeals cut: per request, the handling units it is removed from (encoded as above).
_APPEALS = f"""
    SELECT ap.request_id, array_agg({_TEAM_OR_DEPARTMENT.format(t="ap.team_id", d="ap.department_id")}) AS units
    FROM score_appeals ap
    WHERE {_APPEAL_APPLIES}
    GROUP BY ap.request_id
"""

# What a row of the cohort counts for, one bit each, in `tally.FLAG_NAMES` order: the request itself (once),
# then the counts of `tally.FIELDS`.
_FLAGS = " | ".join(
    f"(COALESCE({condition}, false)::int << {bit})"
    for bit, condition in enumerate(
        (
            "first_row",
            "resp_in AND resp_counted",
            "resp_in AND resp_ok",
            "fin_in AND rated",
            "fin_in AND rated AND fb_resolved",
            "fin_in AND rated AND fb_satisfaction = 'satisfied'",
            "fin_in AND rated AND fb_satisfaction = 'basically_satisfied'",
            "fin_in AND rated AND fb_satisfaction = 'dissatisfied'",
            "fin_in AND first_eval",
            "fin_in AND reopened",
            "fin_in AND no_eval",
            "fin_in AND resolution_due",
            "fin_in AND resolved_on_time",
            "asg_in",
            "asg_in AND returned",
        )
    )
)

_COUNTS = ",\n    ".join(
    f"count(*) FILTER (WHERE flags & {1 << bit} <> 0) AS {name}" for bit, name in enumerate(FLAG_NAMES)
)

# The cohort's counts in one pass, grouped by (category, response holder, final lead unit, assignment unit,
# and their handlers), with the rows of each group as text: `id:flags` for a request's own row,
# `id.n:flags` for its assignment n, `flags` saying what the row counts for (`_FLAGS`). One string a group
# costs little to build, fetch and keep (arrays, or grouping by the flags too, cost seconds at a million
# requests); a verification that does not match compares them to name the requests that moved.
#
# Every column of the request is read as it was at as_of (`_REQUESTS_AS_OF`); assignments, evaluations and
# appeals carry their own times and count when made by as_of.
#
# Response: on time when accepted by as_of and by respond_by; it counts when accepted by as_of or once
# respond_by has passed. On time, the holder is the request's lead (any hand-over clears accepted_at, so a
# set accepted_at belongs to the current lead). Late, the holder is whoever held it when respond_by passed:
# for a request routed once (routing_no ≤ 1, nearly all) that is its lead, or the dispatch centre when it
# has none; for one routed again (returned, reassigned), the latest assignment made by respond_by if it was
# still active and assigned then, else the dispatch centre.
#
# Final lead: the unit copied onto the latest evaluation by as_of, else the request's lead, else the
# dispatch centre. A request closed as "no evaluation" leaves the evaluation denominators.
#
# Dispatches and returns: a request routed once was dispatched once, to its lead, and never returned (a
# return re-routes it); one routed again brings one row per assignment made by as_of (`first_row` marks
# where the request's own facts are counted, once).
#
# [lo, hi] bounds the ids of the cohort (`cohort_id_bounds`): it changes no result, and lets PostgreSQL
# read only that range of requests and evaluations when the table holds more than the period.
#
# The inner selects end in OFFSET 0 so PostgreSQL computes each row's expressions once instead of repeating
# them in the flags and grouping key.
_FACTS = f"""
{{appeals_cte}}
SELECT category, resp_unit, resp_handler, fin_unit, fin_handler, asg_unit, asg_handler,
    {_COUNTS},
    string_agg(id::text || CASE WHEN rno = 1 THEN '' ELSE '.' || rno::text END || ':' || flags::text, ',') AS rows
FROM (
    SELECT g.category, g.resp_unit, g.resp_handler, g.fin_unit, g.fin_handler, g.asg_unit, g.asg_handler,
        g.id, g.rno, {_FLAGS} AS flags
    FROM (
        SELECT g.*, {{kept}}
        FROM (
            SELECT
                r.id,
                COALESCE(a.routing_no, 1) AS rno,
                r.category_code AS category,
                x.resp_counted,
                x.resp_ok,
                CASE WHEN x.resp_ok THEN x.lead_unit
                     WHEN NOT x.resp_counted THEN NULL
                     WHEN r.routing_no <= 1 THEN COALESCE(x.lead_unit, x.located)
                     WHEN a.h_outcome = 'assigned' AND (a.h_ended_at IS NULL OR a.h_ended_at > r.respond_by)
                         THEN {_TEAM_OR_DEPARTMENT.format(t="a.h_team_id", d="a.h_department_id")}
                     ELSE 4 * COALESCE(a.h_unit_id, r.org_unit_id, 0) + 2 END AS resp_unit,
                CASE WHEN x.resp_ok THEN r.handler_id
                     WHEN NOT x.resp_counted THEN NULL
                     WHEN r.routing_no <= 1 THEN CASE WHEN x.lead_unit IS NOT NULL THEN r.handler_id END
                     WHEN a.h_outcome = 'assigned' AND (a.h_ended_at IS NULL OR a.h_ended_at > r.respond_by)
                         THEN a.h_handler_id END AS resp_handler,
                COALESCE(
                    CASE WHEN f2.id IS NOT NULL
                             THEN {_TEAM_OR_DEPARTMENT.format(t="f2.team_id", d="f2.department_id")}
                         WHEN f1.id IS NOT NULL
                             THEN {_TEAM_OR_DEPARTMENT.format(t="f1.team_id", d="f1.department_id")}
                         ELSE x.lead_unit END,
                    x.located) AS fin_unit,
                CASE WHEN f2.id IS NOT NULL THEN f2.handler_id WHEN f1.id IS NOT NULL THEN f1.handler_id
                     ELSE r.handler_id END AS fin_handler,
                CASE WHEN a.routing_no IS NULL THEN x.lead_unit
                     WHEN a.outcome = 'assigned'
                         THEN {_TEAM_OR_DEPARTMENT.format(t="a.team_id", d="a.department_id")} END AS asg_unit,
                CASE WHEN a.routing_no IS NULL THEN r.handler_id ELSE a.handler_id END AS asg_handler,
                COALESCE(a.end_reason = 'returned' AND a.ended_at <= :as_of, false) AS returned,
                COALESCE(a.routing_no, 1) = 1 AS first_row,
                x.no_eval,
                (f1.id IS NOT NULL OR f2.id IS NOT NULL) AND NOT x.no_eval AS rated,
                CASE WHEN f2.id IS NOT NULL THEN f2.resolved ELSE f1.resolved END AS fb_resolved,
                CASE WHEN f2.id IS NOT NULL THEN f2.satisfaction ELSE f1.satisfaction END AS fb_satisfaction,
                f1.id IS NOT NULL AS first_eval,
                f1.id IS NOT NULL AND (NOT f1.resolved OR f1.satisfaction = 'dissatisfied') AS reopened,
                COALESCE(r.resolved_at <= :as_of, false)
                    OR (r.resolve_by <= :as_of
                        AND NOT COALESCE(r.status = 'suspended' AND r.suspended_at <= :as_of, false))
                    AS resolution_due,
                COALESCE(r.resolved_at <= :as_of AND r.resolved_at <= r.resolve_by, false) AS resolved_on_time,
                {{appealed}} AS appealed
            FROM {_requests_as_of(True)} r
            CROSS JOIN LATERAL (
                SELECT
                    COALESCE(r.accepted_at <= :as_of, false) OR r.respond_by <= :as_of AS resp_counted,
                    COALESCE(r.accepted_at <= :as_of AND r.accepted_at <= r.respond_by, false) AS resp_ok,
                    COALESCE(r.close_reason = 'no_evaluation' AND r.closed_at <= :as_of, false) AS no_eval,
                    {_TEAM_OR_DEPARTMENT.format(t="r.lead_team_id", d="r.lead_department_id")} AS lead_unit,
                    4 * COALESCE(r.org_unit_id, 0) + 2 AS located
            ) x
            LEFT JOIN feedback f1 ON f1.request_id = r.id AND f1.resolution_no = 1 AND f1.created_at <= :as_of
                AND f1.request_id BETWEEN :lo AND :hi
            LEFT JOIN feedback f2 ON f2.request_id = r.id AND f2.resolution_no = 2 AND f2.created_at <= :as_of
                AND f2.request_id BETWEEN :lo AND :hi
            LEFT JOIN LATERAL (
                -- Routed more than once by as_of: every assignment made by then (dispatches, returns) and, on
                -- the first one, who held the request when respond_by passed if it was not responded to on time.
                SELECT a.routing_no, a.outcome, a.team_id, a.department_id, a.handler_id, a.ended_at,
                    a.end_reason, h.outcome AS h_outcome, h.team_id AS h_team_id, h.department_id AS h_department_id,
                    h.handler_id AS h_handler_id, h.unit_id AS h_unit_id, h.ended_at AS h_ended_at
                FROM assignments a
                LEFT JOIN LATERAL (
                    SELECT h.outcome, h.team_id, h.department_id, h.handler_id, h.unit_id, h.ended_at
                    FROM assignments h
                    WHERE h.request_id = r.id AND h.created_at <= r.respond_by
                        AND a.routing_no = 1 AND x.resp_counted AND NOT x.resp_ok
                    ORDER BY h.routing_no DESC
                    LIMIT 1
                ) h ON true
                WHERE a.request_id = r.id AND r.routing_no > 1 AND a.created_at <= :as_of
                OFFSET 0  -- keeps it a per-request lookup, skipped for requests routed once
            ) a ON true
            {{appeals_join}}
            WHERE {_COHORT}
            OFFSET 0
        ) g
        {{outer_fence}}
    ) g
    OFFSET 0
) f
GROUP BY category, resp_unit, resp_handler, fin_unit, fin_handler, asg_unit, asg_handler
"""

_APPEALED_REQUESTS = f"""
SELECT ap.request_id, ap.team_id, ap.department_id
FROM score_appeals ap
JOIN {_requests_as_of(False)} r ON r.id = ap.request_id
WHERE {_APPEAL_APPLIES} AND {_COHORT}
ORDER BY ap.request_id, ap.id
"""

_ASSESSMENTS = """
SELECT org_unit_id, source, count(*) AS n, sum(score) AS total
FROM assessments
WHERE period = :period AND created_at <= :as_of
GROUP BY org_unit_id, source
"""

_VISITS = """
SELECT staff_id, org_unit_id, kind, count(*) AS n, sum(households) AS households
FROM visits
WHERE visited_at >= :start AND visited_at < :end AND visited_at <= :as_of AND created_at <= :as_of
GROUP BY staff_id, org_unit_id, kind
"""


def _cohort_params(start: datetime, end: datetime, as_of: datetime) -> dict[str, Any]:
    return {"start": start, "end": end, "as_of": as_of}


async def _rows(session: AsyncSession, sql: str, params: dict[str, Any]) -> list[Any]:
    # Core text on the session's connection: the rows are plain tuples-by-name, no ORM identity map.
    return list((await session.execute(text(sql), params)).all())


async def tune_for_aggregation(session: AsyncSession) -> None:
    """For this transaction only: enough memory to hash a month of requests, and no JIT (compiling the
    cohort query's many expressions costs more than it saves: measured 0.7 s of 1.4 s)."""
    await session.execute(text(f"SET LOCAL work_mem = '{SCORING_WORK_MEM}'"))
    await session.execute(text("SET LOCAL jit = off"))


def _facts_sql(with_appeals: bool) -> str:
    """The cohort query; with no approved appeal to apply, without the per-row join and checks for them."""
    if with_appeals:
        return _FACTS.format(
            appeals_cte=f"WITH ap AS ({_APPEALS})",
            appealed="ap.units",
            appeals_join="LEFT JOIN ap ON ap.request_id = r.id",
            kept=(
                "g.first_row AND NOT COALESCE(g.appealed @> ARRAY[g.resp_unit], false) AS resp_in, "
                "g.first_row AND NOT COALESCE(g.appealed @> ARRAY[g.fin_unit], false) AS fin_in, "
                "g.asg_unit IS NOT NULL AND NOT COALESCE(g.appealed @> ARRAY[g.asg_unit], false) AS asg_in"
            ),
            outer_fence="OFFSET 0",
        )
    return _FACTS.format(
        appeals_cte="",
        appealed="NULL::bigint[]",
        appeals_join="",
        kept="g.first_row AS resp_in, g.first_row AS fin_in, g.asg_unit IS NOT NULL AS asg_in",
        outer_fence="",
    )


async def any_appeal_approved(session: AsyncSession, appeals_as_of: datetime) -> bool:
    """Whether any approved appeal applies at the appeals cut (else the cohort query skips them)."""
    sql = f"SELECT EXISTS (SELECT 1 FROM score_appeals ap WHERE {_APPEAL_APPLIES})"
    return bool((await session.execute(text(sql), {"appeals_as_of": appeals_as_of})).scalar_one())


async def cohort_id_bounds(
    session: AsyncSession, start: datetime, end: datetime, as_of: datetime
) -> tuple[int, int] | None:
    """Bounds on the ids of the cohort's requests (None: no request). When every request of the table falls
    in the period, the table's own id range (two probes of the primary key) bounds it; otherwise one pass
    over the period's rows finds the least and greatest."""
    # Two probes of the received_at index.
    extent = (
        await session.execute(text("SELECT min(received_at) AS earliest, max(received_at) AS latest FROM requests"))
    ).one()
    if extent.earliest is None:
        return None
    if start <= extent.earliest and extent.latest < end:
        row = (await session.execute(text("SELECT min(id) AS lo, max(id) AS hi FROM requests"))).one()
    else:
        # `id + 0`: aggregate over the period's rows (read by the received_at index), rather than walk the
        # primary key from one end until a row of the period turns up (PostgreSQL's min/max shortcut).
        # Any request received in the period, duplicate or not: bounds need only hold the cohort.
        sql = (
            "SELECT min(r.id + 0) AS lo, max(r.id + 0) AS hi FROM requests r "
            "WHERE r.received_at >= :start AND r.received_at < :end AND r.received_at <= :as_of"
        )
        row = (await session.execute(text(sql), _cohort_params(start, end, as_of))).one()
    return None if row.lo is None else (int(row.lo), int(row.hi))


async def cohort_facts(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    as_of: datetime,
    bounds: tuple[int, int],
    *,
    with_appeals: bool = True,
    appeals_as_of: datetime | None = None,
) -> list[Any]:
    """The cohort's counts, one row per (category, response holder and handler, final unit and handler,
    assignment unit and handler): `requests`, the counts in `tally.FIELDS` order, then the group's rows as
    text (`id[.routing_no]:flags`, comma-separated)."""
    # Hash aggregation: the planner, expecting a group per row, would sort a million rows instead.
    await session.execute(text("SET LOCAL enable_sort = off"))
    params = {**_cohort_params(start, end, as_of), "lo": bounds[0], "hi": bounds[1]}
    if with_appeals:
        params["appeals_as_of"] = appeals_as_of or as_of
    result = await session.execute(text(_facts_sql(with_appeals)), params)
    rows = [tuple(row) for row in result.all()]
    await session.execute(text("SET LOCAL enable_sort = on"))
    return rows


async def appealed_requests(
    session: AsyncSession, start: datetime, end: datetime, as_of: datetime, appeals_as_of: datetime | None = None
) -> list[Any]:
    params = {**_cohort_params(start, end, as_of), "appeals_as_of": appeals_as_of or as_of}
    return await _rows(session, _APPEALED_REQUESTS, params)


async def cohort_size_upto(session: AsyncSession, start: datetime, end: datetime, as_of: datetime, cap: int) -> int:
    """How many requests the cohort holds, counting no further than `cap` (a cheap size check)."""
    sql = f"SELECT count(*) FROM (SELECT 1 FROM {_requests_as_of(False)} r WHERE {_COHORT} LIMIT :cap) c"
    return int((await session.execute(text(sql), {**_cohort_params(start, end, as_of), "cap": cap})).scalar_one())


@dataclass(frozen=True, slots=True)
class AssessmentMean:
    count: int
    total: Decimal


async def assessments(session: AsyncSession, period: str, as_of: datetime) -> dict[tuple[int, str], AssessmentMean]:
    rows = await _rows(session, _ASSESSMENTS, {"period": period, "as_of": as_of})
    return {(r.org_unit_id, r.source): AssessmentMean(int(r.n), Decimal(r.total)) for r in rows}


async def visits(session: AsyncSession, start: datetime, end: datetime, as_of: datetime) -> list[Any]:
    return await _rows(session, _VISITS, {"start": start, "end": end, "as_of": as_of})


# ---- the organisation, read whole (a city has thousands of units, not millions), as it was at as_of ------


async def _org_rows(
    session: AsyncSession, table: str, stmt: Any, as_of: datetime, known_by: datetime
) -> list[SimpleNamespace]:
    current = [row._asdict() for row in (await session.execute(stmt)).all()]
    rows = await org_history.rows_as_of(session, table, current, as_of, known_by)
    return [SimpleNamespace(**row) for row in sorted(rows, key=lambda row: row["id"])]


async def org_units(session: AsyncSession, as_of: datetime, known_by: datetime) -> list[SimpleNamespace]:
    stmt = select(
        OrgUnit.id, OrgUnit.code, OrgUnit.name, OrgUnit.level, OrgUnit.parent_id, OrgUnit.path, OrgUnit.created_at
    )
    rows = await _org_rows(session, "org_units", stmt, as_of, known_by)
    return sorted(rows, key=lambda row: row.code)


async def teams(session: AsyncSession, as_of: datetime, known_by: datetime) -> list[SimpleNamespace]:
    stmt = select(Team.id, Team.grid_unit_id, Team.name, Team.created_at)
    return await _org_rows(session, "teams", stmt, as_of, known_by)


async def departments(session: AsyncSession, as_of: datetime, known_by: datetime) -> list[SimpleNamespace]:
    stmt = select(Department.id, Department.code, Department.name, Department.scope_unit_id, Department.created_at)
    rows = await _org_rows(session, "departments", stmt, as_of, known_by)
    return sorted(rows, key=lambda row: row.code)


async def members(session: AsyncSession, as_of: datetime, known_by: datetime) -> list[SimpleNamespace]:
    stmt = select(Member.id, Member.staff_id, Member.team_id, Member.department_id, Member.team_role, Member.created_at)
    return await _org_rows(session, "members", stmt, as_of, known_by)


async def staff(
    session: AsyncSession, ids: Sequence[int], as_of: datetime, known_by: datetime
) -> dict[int, SimpleNamespace]:
    """Names and scope units of these staff as they were at as_of."""
    if not ids:
        return {}
    stmt = select(
        StaffAccount.id, StaffAccount.display_name, StaffAccount.scope_unit_id, StaffAccount.created_at
    ).where(StaffAccount.id.in_(list(ids)))
    wanted = set(ids)
    rows = await _org_rows(session, "staff_accounts", stmt, as_of, known_by)
    return {row.id: row for row in rows if row.id in wanted}


async def leader_links(session: AsyncSession, as_of: datetime, known_by: datetime) -> list[SimpleNamespace]:
    """The leaders' links in force at as_of: made by then, as they were then."""
    stmt = select(
        LeaderLink.id,
        LeaderLink.leader_id,
        LeaderLink.post,
        LeaderLink.org_unit_id,
        LeaderLink.department_id,
        LeaderLink.quota_month,
        LeaderLink.quota_quarter,
        LeaderLink.quota_year,
        LeaderLink.created_at,
    )
    rows = await _org_rows(session, "leader_links", stmt, as_of, known_by)
    return [row for row in rows if (created := org_history.created_at(row.__dict__)) is None or created <= as_of]


# ---- schemes -------------------------------------------------------------------------------------


async def scheme(session: AsyncSession, version: int) -> ScoringScheme | None:
    found: ScoringScheme | None = await session.scalar(select(ScoringScheme).where(ScoringScheme.version == version))
    return found


async def latest_scheme(session: AsyncSession) -> ScoringScheme | None:
    found: ScoringScheme | None = await session.scalar(
        select(ScoringScheme).order_by(ScoringScheme.version.desc()).limit(1)
    )
    return found


async def insert_scheme(
    session: AsyncSession, *, version: int, name: str, notes: str | None, document: dict[str, Any], created_by: str
) -> bool:
    """Insert a scheme version; False when that version already exists (a concurrent writer won)."""
    stmt = (
        pg_insert(ScoringScheme)
        .values(version=version, name=name, notes=notes, document=document, created_by=created_by)
        .on_conflict_do_nothing(index_elements=[ScoringScheme.version])
        .returning(ScoringScheme.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def schemes_page(session: AsyncSession, after_version: int | None, limit: int) -> list[ScoringScheme]:
    stmt = select(ScoringScheme).order_by(ScoringScheme.version)
    if after_version is not None:
        stmt = stmt.where(ScoringScheme.version > after_version)
    return list(await session.scalars(stmt.limit(limit)))


# ---- runs and results ----------------------------------------------------------------------------


async def latest_done_run(session: AsyncSession, period: str, scheme_version: int | None = None) -> ScoreRun | None:
    """The finished run of the period with the latest as_of (ties: the newest run)."""
    stmt = select(ScoreRun).where(ScoreRun.period == period, ScoreRun.status == "done")
    if scheme_version is not None:
        stmt = stmt.where(ScoreRun.scheme_version == scheme_version)
    found: ScoreRun | None = await session.scalar(stmt.order_by(ScoreRun.as_of.desc(), ScoreRun.id.desc()).limit(1))
    return found


async def runs_page(session: AsyncSession, period: str | None, after_id: int | None, limit: int) -> list[ScoreRun]:
    stmt = select(ScoreRun)
    if period is not None:
        stmt = stmt.where(ScoreRun.period == period)
    if after_id is not None:
        stmt = stmt.where(ScoreRun.id < after_id)
    return list(await session.scalars(stmt.order_by(ScoreRun.id.desc()).limit(limit)))


async def replace_results(session: AsyncSession, run_id: int, rows: list[dict[str, Any]]) -> None:
    """The run's results, all at once (a rerun replaces them)."""
    await session.execute(delete(ScoreResult).where(ScoreResult.run_id == run_id))
    if rows:
        await session.execute(insert(ScoreResult), [{**row, "run_id": run_id} for row in rows])


_FACT_COLUMNS = (
    "run_id",
    "category_code",
    "response_unit",
    "response_handler",
    "final_unit",
    "final_handler",
    "assignment_unit",
    "assignment_handler",
    "rows",
)


async def replace_facts(session: AsyncSession, run_id: int, rows: Sequence[Sequence[Any]]) -> None:
    """The run's grouped cohort rows with their requests (`cohort_facts`), by COPY: a month of a million
    requests is some hundred thousand rows."""
    await session.execute(delete(ScoreRunFact).where(ScoreRunFact.run_id == run_id))
    if not rows:
        return
    connection = await (await session.connection()).get_raw_connection()
    driver = connection.driver_connection
    assert driver is not None
    await driver.copy_records_to_table(
        "score_run_facts",
        columns=_FACT_COLUMNS,
        records=((run_id, *row[:7], row[-1]) for row in rows),
    )


async def facts(session: AsyncSession, run_id: int) -> list[Any]:
    """A run's kept facts: (category, the six holders, the rows as text), as `cohort_facts` keys and rows."""
    stmt = select(
        ScoreRunFact.category_code,
        ScoreRunFact.response_unit,
        ScoreRunFact.response_handler,
        ScoreRunFact.final_unit,
        ScoreRunFact.final_handler,
        ScoreRunFact.assignment_unit,
        ScoreRunFact.assignment_handler,
        ScoreRunFact.rows,
    ).where(ScoreRunFact.run_id == run_id)
    return [tuple(row) for row in (await session.execute(stmt)).all()]


async def tracking_numbers(session: AsyncSession, ids: Sequence[int]) -> dict[int, str]:
    if not ids:
        return {}
    stmt = select(Request.id, Request.tracking_no).where(Request.id.in_(list(ids)))
    return {row.id: row.tracking_no for row in (await session.execute(stmt)).all()}


async def results(
    session: AsyncSession,
    run_id: int,
    *,
    levels: Sequence[str],
    scope_path: str,
    parent_code: str | None = None,
    after_id: int | None = None,
    limit: int | None = None,
) -> list[ScoreResult]:
    stmt = select(ScoreResult).where(
        ScoreResult.run_id == run_id,
        ScoreResult.level.in_(list(levels)),
        ScoreResult.path.startswith(scope_path, autoescape=True),
    )
    if parent_code is not None:
        stmt = stmt.where(ScoreResult.parent_code == parent_code)
    if after_id is not None:
        stmt = stmt.where(ScoreResult.id > after_id)
    stmt = stmt.order_by(ScoreResult.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(await session.scalars(stmt))


async def result(session: AsyncSession, run_id: int, levels: Sequence[str], code: str) -> ScoreResult | None:
    found: ScoreResult | None = await session.scalar(
        select(ScoreResult).where(
            ScoreResult.run_id == run_id, ScoreResult.level.in_(list(levels)), ScoreResult.subject_code == code
        )
    )
    return found


async def touch_run(session: AsyncSession, run_id: int, **values: Any) -> None:
    await session.execute(update(ScoreRun).where(ScoreRun.id == run_id).values(**values))


# ---- appeals -------------------------------------------------------------------------------------


async def appeals_page(
    session: AsyncSession, scope_path: str, status: str | None, after_id: int | None, limit: int
) -> list[ScoreAppeal]:
    stmt = select(ScoreAppeal).where(ScoreAppeal.unit_path.startswith(scope_path, autoescape=True))
    if status is not None:
        stmt = stmt.where(ScoreAppeal.status == status)
    if after_id is not None:
        stmt = stmt.where(ScoreAppeal.id > after_id)
    return list(await session.scalars(stmt.order_by(ScoreAppeal.id).limit(limit)))


@asynccontextmanager
async def read_snapshot() -> AsyncIterator[AsyncSession]:
    """A read-only REPEATABLE READ session: every query of a run sees the same committed data.

    On the read replica when `SCORING_DATABASE_URL` is set (a hot standby runs REPEATABLE READ
    read-only transactions); the run's results are written through the primary's session."""
    engine = get_read_engine().execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    async with AsyncSession(bind=engine, expire_on_commit=False, autoflush=False) as session:
        try:
            yield session
        finally:
            await session.rollback()


async def runs_to_resend(session: AsyncSession, *, queued_before: datetime, heartbeat_before: datetime) -> list[int]:
    stmt = (
        select(ScoreRun.id)
        .where(
            ScoreRun.mode == "queued",
            or_(
                and_(ScoreRun.status == "queued", ScoreRun.created_at <= queued_before),
                and_(ScoreRun.status == "running", ScoreRun.heartbeat_at <= heartbeat_before),
            ),
        )
        .order_by(ScoreRun.id)
        .limit(100)
    )
    return list(await session.scalars(stmt))


# ---- publication and corrections -----------------------------------------------------------------


async def latest_published_run(session: AsyncSession, period: str) -> ScoreRun | None:
    """The published run of the period with the latest as_of (ties, e.g. a correction: the newest run)."""
    stmt = select(ScoreRun).where(ScoreRun.period == period, ScoreRun.published_at.is_not(None))
    found: ScoreRun | None = await session.scalar(stmt.order_by(ScoreRun.as_of.desc(), ScoreRun.id.desc()).limit(1))
    return found


_PUBLIC_RUNS_OF_REQUEST = """
SELECT DISTINCT ON (s.period) s.id
FROM score_runs s
JOIN requests r ON r.id = :request_id
WHERE s.published_at IS NOT NULL
    AND r.received_at >= s.period_start AND r.received_at < s.period_end AND r.received_at <= s.as_of
    AND r.duplicate_of_id IS NULL
ORDER BY s.period, s.as_of DESC, s.id DESC
"""


async def public_runs_of_request(session: AsyncSession, request_id: int) -> list[ScoreRun]:
    """The runs the public reads (one per period) whose cohort holds the request."""
    ids = [row.id for row in await _rows(session, _PUBLIC_RUNS_OF_REQUEST, {"request_id": request_id})]
    if not ids:
        return []
    return list(await session.scalars(select(ScoreRun).where(ScoreRun.id.in_(ids)).order_by(ScoreRun.id)))


_DECIDED_SINCE = """
SELECT EXISTS (
    SELECT 1 FROM score_appeals ap JOIN requests r ON r.id = ap.request_id
    WHERE ap.status IN ('approved', 'revoked')
        AND (ap.decided_at > :appeals_as_of OR ap.revoked_at > :appeals_as_of)
        AND r.received_at >= :start AND r.received_at < :end AND r.received_at <= :as_of
        AND r.duplicate_of_id IS NULL
)
"""


async def appeals_decided_since(session: AsyncSession, run: ScoreRun) -> bool:
    """Whether an appeal of the run's cohort was approved or revoked after the decisions the run counts."""
    params = {
        "appeals_as_of": run.appeals_as_of or run.as_of,
        "start": run.period_start,
        "end": run.period_end,
        "as_of": run.as_of,
    }
    return bool((await session.execute(text(_DECIDED_SINCE), params)).scalar_one())


async def runs_due_for_publication(session: AsyncSession, now: datetime) -> list[int]:
    """Finished, unpublished runs whose scheme publishes automatically and whose delay has passed."""
    days = ScoringScheme.document["publish_after_days"].as_integer()
    stmt = (
        select(ScoreRun.id)
        .join(ScoringScheme, ScoringScheme.version == ScoreRun.scheme_version)
        .where(
            ScoreRun.status == "done",
            ScoreRun.published_at.is_(None),
            ScoreRun.finished_at.is_not(None),
            days.is_not(None),
            ScoreRun.finished_at + func.make_interval(0, 0, 0, days) <= now,
        )
        .order_by(ScoreRun.id)
        .limit(100)
    )
    return list(await session.scalars(stmt))
