"""Scoring benchmark (SPEC §10): a month of 1,000,000 requests scored at every level.

    .venv/bin/python -m bench.scoring [--year] [--requests N] [--keep]

1. A fresh database `minqing_bench_scoring` on 127.0.0.1:5432 (dropped and created; embedded servers
   when nothing answers), `alembic upgrade head`, the demo city (`cli.demo.city.load_demo`).
2. Generation, straight into PostgreSQL with COPY (asyncpg `copy_records_to_table`): N requests received
   in the month 2026-10 (default 1,000,000; `--year`: 12,000,000 over 2025) over the demo city's grids
   and departments as the responsibility matrix routes them, with their assignments (a few returned),
   evaluations (some negative, reopened and evaluated again), no-evaluation closures, duplicates,
   requests waiting for dispatch; grid workers' household visits; leaders with links, quotas and
   contacts; assessments by resident organisations and public opinion. Each grid team and department
   gets its own propensities, so the scores differ. Then VACUUM ANALYZE. Generation is timed apart.
3. Scoring in a fresh child process (so its peak RSS is its own): the month (or the year) at every
   level (city, districts, streets, communities, grids, departments, handlers, leaders) exactly as
   `POST /v1/scores/runs` computes and stores it, inline. The child reports the seconds of the
   computation and storing (imports and the first connection excluded) and its peak RSS as the kernel
   counts it (VmHWM).

Targets: month ≤ 10 s, year ≤ 120 s, RSS ≤ 1 GiB. The last line is machine-readable:
`requests=N seconds=N peak_rss_mib=N`.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import random
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench import kit

DATABASE = "minqing_bench_scoring"
REDIS_DB = 12
BATCH = 100_000
SHANGHAI = ZoneInfo("Asia/Shanghai")
SEED = 20261126

# Leaf categories and how often the public raises them (relative weights).
CATEGORY_WEIGHTS = {
    "env.noise": 14,
    "env.sanitation": 8,
    "env.pollution": 2,
    "land.acquisition": 1,
    "housing.property": 12,
    "housing.demolition": 1,
    "enterprise.shareholding": 0.5,
    "hukou.conversion": 0.5,
    "employment": 3,
    "social_security": 4,
    "medical": 3,
    "elderly": 3,
    "education": 3,
    "utilities.water": 4,
    "utilities.power": 3,
    "utilities.gas": 2,
    "utilities.heating": 1,
    "traffic": 6,
    "city.illegal_construction": 5,
    "city.street_light": 4,
}

REQUEST_COLUMNS = [
    "id",
    "tracking_no",
    "channel",
    "category_code",
    "description",
    "priority",
    "status",
    "sla_state",
    "org_unit_id",
    "unit_path",
    "citizen_token_hash",
    "received_at",
    "respond_by",
    "resolve_by",
    "duplicate_of_id",
    "lead_team_id",
    "lead_department_id",
    "handler_id",
    "routing_no",
    "return_count",
    "reopen_count",
    "resolution_no",
    "accepted_at",
    "resolved_at",
    "closed_at",
    "close_reason",
    "outcome",
    "created_by",
]
ASSIGNMENT_COLUMNS = [
    "request_id",
    "routing_no",
    "outcome",
    "team_id",
    "department_id",
    "handler_id",
    "unit_id",
    "active",
    "created_at",
    "ended_at",
    "end_reason",
]
FEEDBACK_COLUMNS = [
    "request_id",
    "resolution_no",
    "resolved",
    "satisfaction",
    "source",
    "team_id",
    "department_id",
    "handler_id",
    "created_at",
]
CHANNELS = ["hotline", "hotline", "hotline", "app", "web", "window", "station"]
TOKEN_HASH = "0" * 64


# ---- the demo city, as generation needs it ------------------------------------------------------


class City:
    """Grids with their teams and members, departments with members, and the routing of categories."""

    def __init__(self, rows: dict[str, list[Any]]) -> None:
        from cli.demo.catalog import CITY_RULES, DISTRICT_DEPARTMENT

        self.units = {r["id"]: r for r in rows["units"]}
        self.grids = [r for r in rows["units"] if r["level"] == "grid"]
        self.team_of_grid = {r["grid_unit_id"]: r["id"] for r in rows["teams"]}
        self.team_members: dict[int, list[tuple[int, str]]] = {}
        self.department_members: dict[int, list[int]] = {}
        for m in rows["members"]:
            if m["team_id"] is not None:
                self.team_members.setdefault(m["team_id"], []).append((m["staff_id"], m["team_role"]))
            else:
                self.department_members.setdefault(m["department_id"], []).append(m["staff_id"])
        self.department_by_code = {r["code"]: r["id"] for r in rows["departments"]}
        self.department_ids = [r["id"] for r in rows["departments"]]
        self.rules = sorted(CITY_RULES, key=lambda rule: -len(rule[0]))
        self.district_department = DISTRICT_DEPARTMENT[0]
        self.units_by_path = {r["path"]: r["id"] for r in rows["units"]}

    def route(self, category: str, grid: dict[str, Any]) -> tuple[str, int]:
        """("team", team id) or ("department", department id) for a category in a grid (the demo matrix)."""
        for prefix, kind, lead, _ in self.rules:
            if prefix == "*" or category == prefix or category.startswith(prefix + "."):
                if prefix == "city":
                    district = grid["path"].split("/")[2]
                    return "department", self.department_by_code[f"{district}-{self.district_department}"]
                if kind == "grid_team":
                    return "team", self.team_of_grid[grid["id"]]
                return "department", self.department_by_code[lead]
        return "team", self.team_of_grid[grid["id"]]


async def read_city(dsn: str) -> City:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        rows = {
            "units": await conn.fetch("SELECT id, code, level, path, parent_id FROM org_units ORDER BY id"),
            "teams": await conn.fetch("SELECT id, grid_unit_id FROM teams ORDER BY id"),
            "members": await conn.fetch("SELECT staff_id, team_id, department_id, team_role FROM members ORDER BY id"),
            "departments": await conn.fetch("SELECT id, code FROM departments ORDER BY id"),
        }
    finally:
        await conn.close()
    return City({k: [dict(r) for r in v] for k, v in rows.items()})


# ---- generation --------------------------------------------------------------------------------


class Propensity:
    """A handling unit's habits: how often it responds on time, resolves, satisfies, returns."""

    def __init__(self, rng: random.Random) -> None:
        self.respond = rng.uniform(0.80, 0.995)
        self.accept = rng.uniform(0.95, 0.995)
        self.resolve_on_time = rng.uniform(0.75, 0.97)
        self.resolved = rng.uniform(0.75, 0.97)
        self.satisfied = rng.uniform(0.55, 0.85)
        self.dissatisfied = rng.uniform(0.03, 0.15)
        self.evaluated = rng.uniform(0.65, 0.9)


def _handler(city: City, kind: str, unit_id: int, rng: random.Random) -> int | None:
    if kind == "team":
        team = city.team_members.get(unit_id) or []
        return rng.choice(team)[0] if team and rng.random() < 0.97 else None
    staff = city.department_members.get(unit_id) or []
    return rng.choice(staff) if staff and rng.random() < 0.9 else None


def generate_batch(
    city: City,
    first_id: int,
    count: int,
    start: datetime,
    seconds: float,
    now: datetime,
    rng: random.Random,
    propensity: dict[tuple[str, int], Propensity],
    categories: list[str],
    cumulative: list[float],
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    requests: list[tuple[Any, ...]] = []
    assignments: list[tuple[Any, ...]] = []
    feedback: list[tuple[Any, ...]] = []
    grids = city.grids
    total_weight = cumulative[-1]
    minute = timedelta(minutes=1)
    for request_id in range(first_id, first_id + count):
        received = start + timedelta(seconds=seconds * (request_id - first_id + rng.random()) / count)
        category = categories[bisect.bisect(cumulative, rng.random() * total_weight)]
        grid = grids[rng.randrange(len(grids))]
        respond_by = received + timedelta(hours=2)
        resolve_by = received + (timedelta(hours=24) if category.startswith("utilities") else timedelta(days=7))
        kind, unit_id = city.route(category, grid)
        p = propensity[(kind, unit_id)]
        team_id = unit_id if kind == "team" else None
        department_id = unit_id if kind == "department" else None
        handler = _handler(city, kind, unit_id, rng)
        draw = rng.random()
        duplicate_of = None
        status, accepted, resolved, closed, close_reason, outcome = "assigned", None, None, None, None, None
        return_count = reopen_count = resolution_no = 0
        routing_no = 1
        if draw < 0.005 and request_id > first_id:
            # A duplicate: it follows its original and closes with it; never scored.
            duplicate_of = request_id - 1 - rng.randrange(min(50, request_id - first_id))
            status, closed, close_reason = "closed", received + timedelta(days=3), "with_original"
            requests.append(
                _request_row(
                    request_id, category, status, grid, received, respond_by, resolve_by, duplicate_of,
                    team_id, department_id, handler, 1, 0, 0, 0, None, None, closed, close_reason, None,
                )
            )  # fmt: skip
            assignments.append(
                (request_id, 1, "assigned", team_id, department_id, handler, grid["id"], True, received + minute,
                 None, None)
            )  # fmt: skip
            continue
        if draw < 0.02:
            # Waiting for a dispatcher (no rule, or unclassified): the district's dispatch centre holds it.
            requests.append(
                _request_row(
                    request_id, category, "needs_dispatch", grid, received, respond_by, resolve_by, None,
                    None, None, None, 1, 0, 0, 0, None, None, None, None, None,
                )
            )  # fmt: skip
            assignments.append(
                (request_id, 1, "needs_dispatch", None, None, None, grid["id"], True, received + minute, None, None)
            )  # fmt: skip
            continue
        created = received + minute
        if draw < 0.05:
            # Returned once by a neighbouring grid's team, then routed where the matrix says.
            other = grids[rng.randrange(len(grids))]
            other_team = city.team_of_grid[other["id"]]
            other_handler = _handler(city, "team", other_team, rng)
            returned_at = created + timedelta(minutes=rng.uniform(5, 90))
            assignments.append(
                (request_id, 1, "assigned", other_team, None, other_handler, other["id"], False, created,
                 returned_at, "returned")
            )  # fmt: skip
            routing_no, return_count, created = 2, 1, returned_at
        assignments.append(
            (request_id, routing_no, "assigned", team_id, department_id, handler, grid["id"], True, created, None,
             None)
        )  # fmt: skip
        if rng.random() < p.accept:
            on_time = rng.random() < p.respond
            delay = rng.uniform(2, 110) if on_time else rng.uniform(125, 1800)
            accepted = max(received + timedelta(minutes=delay), created + minute)
            if accepted > now:
                accepted = None
        if accepted is not None:
            status = "accepted"
            if rng.random() < 0.93:
                window = resolve_by - accepted
                in_time = rng.random() < p.resolve_on_time
                fraction = rng.uniform(0.05, 0.98) if in_time else rng.uniform(1.02, 2.5)
                resolved = accepted + window * fraction
                if resolved > now:
                    resolved = None
            if resolved is not None:
                status, resolution_no, outcome = "resolved", 1, "resolved"
                if rng.random() < p.evaluated:
                    at = resolved + timedelta(hours=rng.uniform(1, 140))
                    if at <= now:
                        yes, satisfaction = _evaluation(p, rng)
                        feedback.append(
                            (request_id, 1, yes, satisfaction, "citizen", team_id, department_id, handler, at)
                        )
                        negative = not yes or satisfaction == "dissatisfied"
                        if not negative:
                            status, closed, close_reason = "closed", at, "satisfied"
                        else:
                            # Reopened (重办): new deadlines from the reopening, accepted again.
                            reopen_count, status, accepted = 1, "assigned", None
                            resolved = None
                            respond_by, resolve_by = at + timedelta(hours=2), at + timedelta(days=7)
                            second = at + timedelta(hours=rng.uniform(0.1, 3) if rng.random() < p.respond else 5)
                            if second <= now and rng.random() < 0.9:
                                accepted = second
                                resolved = second + timedelta(days=rng.uniform(0.5, 6))
                                status = "accepted"
                                if resolved <= now:
                                    status, resolution_no = "resolved", 2
                                    at2 = resolved + timedelta(hours=rng.uniform(1, 140))
                                    if rng.random() < p.evaluated and at2 <= now:
                                        yes2, sat2 = _evaluation(p, rng)
                                        feedback.append(
                                            (request_id, 2, yes2, sat2, "citizen", team_id, department_id, handler,
                                             at2)
                                        )  # fmt: skip
                                        negative2 = not yes2 or sat2 == "dissatisfied"
                                        status, closed = "closed", at2
                                        close_reason = "unsatisfied" if negative2 else "satisfied"
                                    elif resolved + timedelta(days=7) <= now:
                                        status, closed = "closed", resolved + timedelta(days=7)
                                        close_reason = "no_evaluation"
                                else:
                                    resolved = None
                elif resolved + timedelta(days=7) <= now:
                    status, closed, close_reason = "closed", resolved + timedelta(days=7), "no_evaluation"
        requests.append(
            _request_row(
                request_id, category, status, grid, received, respond_by, resolve_by, None, team_id, department_id,
                handler, routing_no, return_count, reopen_count, resolution_no, accepted, resolved, closed,
                close_reason, outcome,
            )
        )  # fmt: skip
    return requests, assignments, feedback


def _evaluation(p: Propensity, rng: random.Random) -> tuple[bool, str]:
    yes = rng.random() < p.resolved
    draw = rng.random()
    if not yes:
        return False, "dissatisfied" if draw < 0.6 else "basically_satisfied"
    if draw < p.dissatisfied:
        return True, "dissatisfied"
    return True, "satisfied" if draw < p.dissatisfied + p.satisfied else "basically_satisfied"


def _request_row(
    request_id: int,
    category: str,
    status: str,
    grid: dict[str, Any],
    received: datetime,
    respond_by: datetime,
    resolve_by: datetime,
    duplicate_of: int | None,
    team_id: int | None,
    department_id: int | None,
    handler: int | None,
    routing_no: int,
    return_count: int,
    reopen_count: int,
    resolution_no: int,
    accepted: datetime | None,
    resolved: datetime | None,
    closed: datetime | None,
    close_reason: str | None,
    outcome: str | None,
) -> tuple[Any, ...]:
    return (
        request_id,
        f"B{request_id:011d}",
        CHANNELS[request_id % len(CHANNELS)],
        category,
        "基准测试诉求",
        "normal",
        status,
        "ok",
        grid["id"],
        grid["path"],
        TOKEN_HASH,
        received,
        respond_by,
        resolve_by,
        duplicate_of,
        team_id,
        department_id,
        handler,
        routing_no,
        return_count,
        reopen_count,
        resolution_no,
        accepted,
        resolved,
        closed,
        close_reason,
        outcome,
        "bench",
    )


async def generate(dsn: str, total: int, start: datetime, end: datetime, now: datetime) -> dict[str, int]:
    """COPY the requests and everything around them; returns row counts."""
    import asyncpg

    city = await read_city(dsn)
    rng = random.Random(SEED)
    propensity = {("team", t): Propensity(rng) for t in city.team_of_grid.values()}
    propensity.update({("department", d): Propensity(rng) for d in city.department_ids})
    categories = list(CATEGORY_WEIGHTS)
    cumulative: list[float] = []
    running = 0.0
    for category in categories:
        running += CATEGORY_WEIGHTS[category]
        cumulative.append(running)
    counts = {"requests": 0, "assignments": 0, "feedback": 0}
    conn = await asyncpg.connect(dsn)
    try:
        # Bench data is consistent by construction: skip per-row foreign-key triggers while loading.
        await conn.execute("SET session_replication_role = replica")
        months = _month_starts(start, end)
        per_month = [total * (i + 1) // len(months) - total * i // len(months) for i in range(len(months))]
        next_id = 1
        for (month_start, month_end), month_total in zip(months, per_month, strict=True):
            month_seconds = (month_end - month_start).total_seconds()
            done = 0
            while done < month_total:
                size = min(BATCH, month_total - done)
                batch_start = month_start + timedelta(seconds=month_seconds * done / month_total)
                batch_seconds = month_seconds * size / month_total
                requests, assignments, feedback = generate_batch(
                    city, next_id, size, batch_start, batch_seconds, now, rng, propensity, categories, cumulative
                )
                await conn.copy_records_to_table("requests", records=requests, columns=REQUEST_COLUMNS)
                await conn.copy_records_to_table("assignments", records=assignments, columns=ASSIGNMENT_COLUMNS)
                await conn.copy_records_to_table("feedback", records=feedback, columns=FEEDBACK_COLUMNS)
                counts["requests"] += len(requests)
                counts["assignments"] += len(assignments)
                counts["feedback"] += len(feedback)
                next_id += size
                done += size
            kit.log(f"  generated {counts['requests']:,} requests")
        await conn.execute("SELECT setval('requests_id_seq', $1)", next_id)
        counts.update(await _people(conn, city, start, end, now, rng))
    finally:
        await conn.close()
    return counts


def _month_starts(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    local = start.astimezone(SHANGHAI)
    bounds = []
    year, month = local.year, local.month
    while True:
        begin = datetime(year, month, 1, tzinfo=SHANGHAI).astimezone(UTC)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        finish = datetime(year, month, 1, tzinfo=SHANGHAI).astimezone(UTC)
        bounds.append((begin, min(finish, end)))
        if finish >= end:
            return bounds


async def _people(
    conn: Any, city: City, start: datetime, end: datetime, now: datetime, rng: random.Random
) -> dict[str, int]:
    """Grid workers' visits, leaders with links and contacts, assessments."""
    months = _month_starts(start, end)
    periods = [m.astimezone(SHANGHAI).strftime("%Y-%m") for m, _ in months]
    if len(months) == 12:
        year = periods[0][:4]
        periods += [f"{year}-Q{q}" for q in range(1, 5)] + [year]
    grid_of_team = {t: g for g, t in city.team_of_grid.items()}
    visits: list[tuple[Any, ...]] = []
    for team_id, members in city.team_members.items():
        for staff_id, role in members:
            if role != "grid_worker":
                continue
            for m_start, m_end in months:
                span = (m_end - m_start).total_seconds()
                for _ in range(rng.randint(8, 30)):
                    at = m_start + timedelta(seconds=rng.random() * span)
                    visits.append(("household", grid_of_team[team_id], staff_id, at, rng.randint(1, 6), at))
    # Leaders: one per district (区委书记) and per street (街道党工委书记), linked to units below them.
    admin_id = await conn.fetchval("SELECT id FROM staff_accounts WHERE username = 'admin'")
    password_hash = await conn.fetchval("SELECT password_hash FROM staff_accounts WHERE username = 'admin'")
    leaders = []
    for unit in city.units.values():
        if unit["level"] in ("district", "street"):
            post = "区委书记" if unit["level"] == "district" else "街道党工委书记"
            leaders.append((f"leader_{unit['code']}", f"{unit['code']}{post}", post, unit))
    await conn.executemany(
        "INSERT INTO staff_accounts (username, display_name, password_hash, role, scope_unit_id) "
        "VALUES ($1, $2, $3, 'supervisor', $4)",
        [(username, name, password_hash, unit["id"]) for username, name, _, unit in leaders],
    )
    ids = dict(await conn.fetch("SELECT username, id FROM staff_accounts WHERE username LIKE 'leader_%'"))
    children: dict[int, list[int]] = {}
    for unit in city.units.values():
        if unit["parent_id"] is not None:
            children.setdefault(unit["parent_id"], []).append(unit["id"])
    links = []
    for username, _, post, unit in leaders:
        targets = sorted(children.get(unit["id"], []))[:6]
        for target in targets:
            links.append((ids[username], post, target, 1, 3, 12))
            for m_start, m_end in months:
                span = (m_end - m_start).total_seconds()
                for _ in range(rng.choice((0, 1, 1, 2, 3))):
                    at = m_start + timedelta(seconds=rng.random() * span)
                    place = rng.choice(children.get(target, [target]) or [target])
                    visits.append(("leader_contact", place, ids[username], at, 1, at))
    await conn.executemany(
        "INSERT INTO leader_links (leader_id, post, org_unit_id, quota_month, quota_quarter, quota_year) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        links,
    )
    visits = [v for v in visits if v[3] <= now]
    await conn.copy_records_to_table(
        "visits",
        records=[(kind, unit, staff, at, homes, at, at) for kind, unit, staff, at, homes, _ in visits],
        columns=["kind", "org_unit_id", "staff_id", "visited_at", "households", "created_at", "updated_at"],
    )
    assessments = []
    for unit in city.units.values():
        if unit["level"] in ("district", "street", "community"):
            for period in periods:
                for source in ("resident_organisation", "public_opinion"):
                    for n in range(rng.randint(0, 3)):
                        assessments.append(
                            (unit["id"], period, source, f"评议单位{n}", round(rng.uniform(70, 99), 2), admin_id)
                        )
    await conn.copy_records_to_table(
        "assessments",
        records=assessments,
        columns=["org_unit_id", "period", "source", "assessor", "score", "created_by_id"],
    )
    return {"visits": len(visits), "leader_links": len(links), "assessments": len(assessments)}


# ---- scoring, in a child process ---------------------------------------------------------------


async def score_child(period: str) -> dict[str, Any]:
    """What the child runs: the service's own inline run, timed (imports and connecting excluded)."""
    from sqlalchemy import select, text

    from services.models import StaffAccount
    from services.scoring import service
    from services.scoring.repository import read_snapshot
    from services.scoring.schemas import RunCreate
    from shared.auth import Principal
    from shared.db import dispose_engine, get_sessionmaker

    async with get_sessionmaker()() as session:
        admin = (await session.execute(select(StaffAccount).where(StaffAccount.username == "admin"))).scalar_one()
        principal = Principal(kind="staff", id=admin.id, name="admin", role="admin", scope_path="/3302/")
        await session.execute(text("SELECT 1"))
        async with read_snapshot() as snapshot:
            await snapshot.execute(text("SELECT 1"))
            started = time.perf_counter()
            phases: dict[str, float] = {}

            async def progress(phase: str, done: int, total: int) -> None:
                phases[f"{phase}{done}/{total}"] = round(time.perf_counter() - started, 2)

            run, spec = await service.create_run(session, principal, RunCreate(period=period, background=False))
            computed = await service.compute_run(snapshot, spec, progress)
            computed_at = time.perf_counter() - started
            await service.store_run(session, run.id, computed)
            await session.commit()
            seconds = time.perf_counter() - started
    await dispose_engine()
    return {
        "peak_rss_mib": _peak_rss_mib(),
        "seconds": seconds,
        "compute_seconds": computed_at,
        "cohort": computed.cohort_size,
        "results": len(computed.rows),
        "run_id": run.id,
        "phases": phases,
    }


def _peak_rss_mib() -> float:
    """This process's peak resident set, imports and all, as the kernel counts it.

    Linux: VmHWM of /proc/self/status, which belongs to this program's memory since exec (ru_maxrss would
    carry over the forking parent's peak, here the generator's). Elsewhere: ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(env: dict[str, str], period: str) -> tuple[dict[str, Any], float]:
    """Score in a fresh process; returns its report and its peak RSS in MiB (as the child's kernel counters
    say: the parent's RUSAGE_CHILDREN would mix in the other children, alembic among them)."""
    proc = subprocess.Popen(
        [kit.PYTHON, "-m", "bench.scoring", "--score-child", period],
        cwd=kit.ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = proc.communicate(timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"scoring child failed ({proc.returncode}):\n{out}\n{err}")
    report = json.loads(out.strip().splitlines()[-1])
    return report, float(report["peak_rss_mib"])


# ---- main --------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--year", action="store_true", help="12,000,000 requests over 2025, scored as the year")
    parser.add_argument("--requests", type=int, help="how many requests (default 1,000,000; 12,000,000 with --year)")
    parser.add_argument("--score-child", metavar="PERIOD", help=argparse.SUPPRESS)
    parser.add_argument("--skip-generate", action="store_true", help="score the database as it is")
    args = parser.parse_args()
    if args.score_child:
        kit.ensure_root_on_path()
        report = asyncio.run(score_child(args.score_child))
        print(json.dumps(report))
        return 0

    now = datetime.now(UTC).replace(microsecond=0)
    if args.year:
        period, total = "2025", args.requests or 12_000_000
        start, end = datetime(2025, 1, 1, tzinfo=SHANGHAI), datetime(2026, 1, 1, tzinfo=SHANGHAI)
    else:
        period, total = "2026-10", args.requests or 1_000_000
        start, end = datetime(2026, 10, 1, tzinfo=SHANGHAI), datetime(2026, 11, 1, tzinfo=SHANGHAI)
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end > now:
        raise SystemExit("the benchmark period must lie in the past")
    kit.ensure_root_on_path()
    if args.skip_generate:
        dsn = f"postgresql://postgres@{kit.HOST}:{kit.PG_PORT}/{DATABASE}"
        env = kit.app_env(
            kit.Services(f"postgresql+asyncpg://postgres@{kit.HOST}:{kit.PG_PORT}/{DATABASE}", dsn, "", False, ""),
            REDIS_URL=f"redis://{kit.HOST}:{kit.REDIS_PORT}/{REDIS_DB}",
        )
        return _score(env, period, total, None)
    with kit.bench_services(DATABASE, REDIS_DB) as services:
        kit.log(f"scoring benchmark: {services.describe}")
        env = kit.app_env(services)
        kit.migrate(env)
        t0 = time.perf_counter()
        asyncio.run(_load_demo(services.database_url))
        kit.log(f"demo city loaded in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        counts = asyncio.run(generate(services.dsn, total, start, end, now))
        asyncio.run(_vacuum(services.dsn))
        generation = time.perf_counter() - t0
        kit.log(
            f"generated in {generation:.1f} s (COPY + VACUUM ANALYZE): "
            + ", ".join(f"{name} {n:,}" for name, n in counts.items())
        )
        return _score(env, period, counts["requests"], generation)


def _score(env: dict[str, str], period: str, requests: int, generation: float | None) -> int:
    report, rss = run_child(env, period)
    kit.log(
        f"scored {period}: {report['cohort']:,} requests in the cohort (duplicates excluded), "
        f"{report['results']:,} results stored (run {report['run_id']}); "
        f"compute {report['compute_seconds']:.2f} s, compute + store {report['seconds']:.2f} s; "
        f"peak RSS of the scoring process {rss:.0f} MiB"
    )
    kit.log(f"  progress marks (s since start): {report['phases']}")
    target = 120.0 if len(period) == 4 else 10.0
    verdict = "within" if report["seconds"] <= target and rss <= 1024 else "OUTSIDE"
    kit.log(f"target: ≤ {target:.0f} s and ≤ 1024 MiB: {verdict}")
    if generation is not None:
        kit.log(f"generation (not part of scoring): {generation:.1f} s")
    print(f"requests={requests} seconds={report['seconds']:.2f} peak_rss_mib={rss:.0f}", flush=True)
    return 0


async def _load_demo(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    from shared.db import dispose_engine, unit_of_work
    from shared.settings import get_settings

    get_settings.cache_clear()
    from cli.demo.city import load_demo

    async with unit_of_work() as session:
        await load_demo(session)
    await dispose_engine()


async def _vacuum(dsn: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        for table in ("requests", "assignments", "feedback", "visits", "assessments", "leader_links"):
            await conn.execute(f"VACUUM ANALYZE {table}")
    finally:
        await conn.close()


if __name__ == "__main__":
    sys.exit(main())
