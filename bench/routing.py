"""Routing benchmark (SPEC §10): grid lookup, one worker's routing rate, intake → assigned latency.

    .venv/bin/python -m bench.routing [--requests N] [--seconds S] [--py-spy]

1. A fresh database `minqing_bench_routing` (dropped and created) on 127.0.0.1:5432 and Redis
   db 7 (flushed), or embedded servers when those do not answer; `alembic upgrade head`; the demo
   city (its integration API key). Then the demo's 1,086 grids are cut into exactly 10,000: every
   cell of the demo's vertex lattice is divided 4 x 4 (bilinearly, each new vertex computed once,
   so neighbours share their edges vertex for vertex: the new grids tile without gap or overlap,
   and follow the old grids' borders within the 6-decimal rounding of their vertices, ~5 cm),
   and each demo grid is cut into rectangles of those small cells, as many as its share of the
   area. They are loaded the way `POST /v1/admin/org-units/import-grids` loads them
   (`services.org.service.import_grids`: the demo codes get new polygons, the rest are created in
   the same communities), and every new grid gets a team with a grid worker and a social worker
   on duty, like the demo's. The responsibility matrix stays the demo's.
2. (a) `GridIndex` over those 10,000 grids: the time of each `locate` over >= 100,000 random
   points in the city (median, p99), checking that every point of the old map finds a new grid,
   in the same community (but for points within centimetres of a community border).
3. (b) N requests (20,000; the category mix of `bench.kit.data.CATEGORY_MIX`) with their `received` event
   and outbox entry are written straight into the database, their route jobs enqueued, then ONE
   worker process (`python -m arq routing_worker.worker.WorkerSettings`) is started: routed/s from
   its first routing decision to its last (and, for reference, from its start). Bounded: 30 s
   after the first decision; what is left is then dropped (its jobs flushed from Redis db 7, its
   outbox entries closed) so that (c) starts without a backlog.
4. (c) The intake API (one uvicorn process) and that worker; a warm-up, a 15 s reference phase at
   40 req/s (a rate one worker sustains on a busy 2-core machine; `--ref-rate 0` skips it), then
   `POST /v1/requests` at 200 req/s, open loop, for 60 s (distinct points and phones: no
   duplicates). For each request sent, the time from its scheduled send to the moment its routing
   decision was visible in the database (a poll every 10 ms): p50/p95/p99; a request that got no
   201, or no decision within 20 s after the load, counts with its waiting time so far (the p95 is
   then a lower bound, marked `>=`). Also the same against the routing transaction's own start
   (`assignments.created_at`) and against `received_at`.
5. Everything started is stopped. The last line is machine-readable:
   `lookup_median_us=N routed_per_s=N e2e_p95_ms=N` (the 200 req/s phase).

Targets: lookup <= 50 µs median, >= 500 routed/s for one worker, e2e p95 <= 250 ms at 200 req/s.
`--py-spy` also samples the worker with py-spy during (b) and (c) (and the API during (c)) and
prints where the time goes.

    .venv/bin/python -m bench.routing --embedded [--rate R] [--seconds S] [--launcher-log FILE]

`--embedded` measures (c) under `make run` instead (none of the above runs): the launcher itself,
`python -m cli run --data-dir <fresh temporary folder>`, with DATABASE_URL and REDIS_URL removed
from its environment (so it starts its embedded PostgreSQL and Redis 6.2), INTAKE_PORT /
SCORING_PORT on free ports and a SECRET_KEY of its own; its whole output goes to a log file. Its
`API key:` and `DATABASE_URL=` lines give the key and the database; after a warm-up at the
measured rate (4 s, then until those requests are routed) it is (c) once at 40 req/s for 60 s
(`--rate`, `--seconds`) against the demo city's own grids, with the routing worker, long worker
and scoring service `make run` starts. Then the launcher gets SIGTERM; every process seen under it
must be gone. The launcher's log is searched for the lines showing Redis trouble ("enqueue
skipped", "enqueue failed", "rate limit not counted", "Redis command error", "outbox relay
re-sent"). The demo step writes .data/demo-credentials.txt in the repository whatever the data
directory (`cli load-demo`'s default); that file is put back as it was afterwards. Last line:
`embedded_e2e_p50_ms=N embedded_e2e_p95_ms=N embedded_e2e_p99_ms=N rate=R seconds=S unrouted=N
skipped_enqueues=N failed_enqueues=N uncounted_rate_limits=N redis_command_errors=N
relay_resends=N leftover_processes=N`. Target: p95 <= 250 ms at 40 req/s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import math
import os
import re
import secrets
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import kit

DATABASE = "minqing_bench_routing"
REDIS_DB = 7
TARGET_GRIDS = 10_000
FINE = 4  # each demo lattice cell becomes FINE x FINE small cells
LOOKUP_POINTS = 120_000
ROUTE_REQUESTS = 20_000
ROUTE_MAX_COLD_S = 40.0  # bound on (b): worker start -> first decision
ROUTE_MAX_S = 30.0  # bound on (b): first decision -> last
RATE = 200.0
E2E_S = 60.0
REF_RATE = 40.0  # a short reference phase at a rate one worker sustains here, before (c)
REF_S = 15.0
WARMUP_RATE = 50.0
WARMUP_S = 4.0
SEED = 20260

# ---- the 10,000-grid map -------------------------------------------------------------------------


class Lattice:
    """The demo's vertex lattice, read back from its grid rings (one vertex every 1/120 degree,
    each moved by less than a quarter cell), refined FINE x FINE per cell."""

    def __init__(self, rings: dict[str, list[list[float]]], origin: tuple[float, float], per_degree: int) -> None:
        self.origin = origin
        self.per_degree = per_degree
        self.vertices: dict[tuple[int, int], tuple[float, float]] = {}
        self.rects: dict[str, tuple[int, int, int, int]] = {}  # grid code -> (col0, row0, col1, row1)
        for code, ring in rings.items():
            cols, rows = [], []
            for lon, lat in ring[:-1]:
                col = round((lon - origin[0]) * per_degree)
                row = round((lat - origin[1]) * per_degree)
                if abs((lon - origin[0]) * per_degree - col) > 0.3 or abs((lat - origin[1]) * per_degree - row) > 0.3:
                    raise RuntimeError(f"grid {code}: vertex {lon},{lat} is not on the demo lattice")
                previous = self.vertices.setdefault((col, row), (lon, lat))
                if previous != (lon, lat):
                    raise RuntimeError(f"grid {code}: lattice vertex {(col, row)} differs between grids")
                cols.append(col)
                rows.append(row)
            rect = (min(cols), min(rows), max(cols), max(rows))
            if len(ring) - 1 != 2 * ((rect[2] - rect[0]) + (rect[3] - rect[1])):
                raise RuntimeError(f"grid {code} is not a rectangle of lattice cells")
            self.rects[code] = rect
        self._fine: dict[tuple[int, int], tuple[float, float]] = {}

    def vertex(self, col: int, row: int) -> tuple[float, float]:
        """A lattice vertex; one inside a grid (on no ring) is the mean of its four neighbours."""
        found = self.vertices.get((col, row))
        if found is None:
            around = [self.vertices.get(v) for v in ((col - 1, row), (col + 1, row), (col, row - 1), (col, row + 1))]
            known = [v for v in around if v is not None]
            if len(known) < 4:
                raise RuntimeError(f"lattice vertex {(col, row)} cannot be placed")
            found = (round(sum(v[0] for v in known) / 4, 6), round(sum(v[1] for v in known) / 4, 6))
            self.vertices[(col, row)] = found
        return found

    def fine(self, x: int, y: int, rect: tuple[int, int, int, int]) -> tuple[float, float]:
        """Fine vertex (x, y) (FINE per lattice cell), bilinear in its lattice cell, computed once."""
        found = self._fine.get((x, y))
        if found is not None:
            return found
        col = min(max(x // FINE, rect[0]), rect[2] - 1)
        row = min(max(y // FINE, rect[1]), rect[3] - 1)
        u, v = (x - col * FINE) / FINE, (y - row * FINE) / FINE
        a, b = self.vertex(col, row), self.vertex(col + 1, row)
        d, e = self.vertex(col, row + 1), self.vertex(col + 1, row + 1)
        lon = (1 - v) * ((1 - u) * a[0] + u * b[0]) + v * ((1 - u) * d[0] + u * e[0])
        lat = (1 - v) * ((1 - u) * a[1] + u * b[1]) + v * ((1 - u) * d[1] + u * e[1])
        found = (round(lon, 6), round(lat, 6))
        self._fine[(x, y)] = found
        return found

    def ring(self, x0: int, y0: int, x1: int, y1: int, rect: tuple[int, int, int, int]) -> list[list[float]]:
        """Counter-clockwise ring around fine cells x0..x1, y0..y1, through every fine vertex on it."""
        path = (
            [(x, y0) for x in range(x0, x1)]
            + [(x1, y) for y in range(y0, y1)]
            + [(x, y1) for x in range(x1, x0, -1)]
            + [(x0, y) for y in range(y1, y0, -1)]
        )
        ring = [list(self.fine(x, y, rect)) for x, y in path]
        ring.append(list(ring[0]))
        return ring


def _split(length: int, parts: int) -> list[tuple[int, int]]:
    edges = [round(i * length / parts) for i in range(parts + 1)]
    return list(itertools.pairwise(edges))


def _cut(width: int, height: int, pieces: int) -> list[tuple[int, int, int, int]]:
    """`pieces` rectangles tiling a width x height rectangle of cells, as square as may be."""
    rows = max(1, min(height, pieces, round(math.sqrt(pieces * height / width))))
    while rows < height and math.ceil(pieces / rows) > width:
        rows += 1
    per_row = [pieces // rows + (1 if i < pieces % rows else 0) for i in range(rows)]
    out = []
    for (y0, y1), n in zip(_split(height, rows), per_row, strict=True):
        for x0, x1 in _split(width, n):
            out.append((x0, y0, x1, y1))
    return out


def ten_thousand_grids(
    grids: list[tuple[str, str, list[list[float]]]], names: dict[str, str], target: int
) -> list[dict[str, Any]]:
    """GeoJSON features of `target` grids cut from the demo grids (code, community code, ring)."""
    from cli.demo import geography as demo_geography

    per_degree = int(getattr(demo_geography, "_CELLS_PER_DEGREE", 120))
    lattice = Lattice({code: ring for code, _, ring in grids}, demo_geography.EXTENT[:2], per_degree)
    areas = {code: (r[2] - r[0]) * (r[3] - r[1]) * FINE * FINE for code, r in lattice.rects.items()}
    total = sum(areas.values())
    if total < target:
        raise RuntimeError(f"{total} small cells cannot make {target} grids")
    # Largest remainder: every demo grid gets its share of `target` by area, at least one.
    quota = {code: max(1, target * a / total) for code, a in areas.items()}
    counts = {code: int(q) for code, q in quota.items()}
    short = target - sum(counts.values())
    for code in sorted(quota, key=lambda k: quota[k] - counts[k], reverse=True)[: max(0, short)]:
        counts[code] += 1
    while sum(counts.values()) > target:  # the minimum of one may overshoot
        biggest = max(counts, key=lambda k: counts[k])
        counts[biggest] -= 1
    features: list[dict[str, Any]] = []
    numbers: Counter[str] = Counter()
    for code, community, _ in sorted(grids):
        rect = lattice.rects[code]
        width, height = (rect[2] - rect[0]) * FINE, (rect[3] - rect[1]) * FINE
        for x0, y0, x1, y1 in _cut(width, height, counts[code]):
            numbers[community] += 1
            number = numbers[community]
            if number > 999:
                raise RuntimeError(f"community {community} would get more than 999 grids")
            ring = lattice.ring(
                rect[0] * FINE + x0, rect[1] * FINE + y0, rect[0] * FINE + x1, rect[1] * FINE + y1, rect
            )
            features.append(
                {
                    "type": "Feature",
                    "properties": {
                        "code": f"{community}{number:03d}",
                        "name": f"{names[community]}第{number}网格",
                        "name_en": f"Bench grid {number}",
                        "parent_code": community,
                    },
                    "geometry": {"type": "Polygon", "coordinates": [ring]},
                }
            )
    return features


async def extend_grid_map(target: int) -> dict[str, Any]:
    """Cut the demo grids into `target`, import them as import-grids does, staff the new grids."""
    from sqlalchemy import func, insert, select

    from services.models import Member, OrgUnit, StaffAccount, Team
    from services.org.schemas import GridImport
    from services.org.service import import_grids
    from shared.auth import Principal
    from shared.db import dispose_engine, unit_of_work

    t0 = time.perf_counter()
    try:
        async with unit_of_work() as session:
            rows = (
                await session.execute(
                    select(OrgUnit.code, OrgUnit.geometry, OrgUnit.parent_id).where(OrgUnit.level == "grid")
                )
            ).all()
            communities = {
                r.id: (r.code, r.name)
                for r in (
                    await session.execute(
                        select(OrgUnit.id, OrgUnit.code, OrgUnit.name).where(OrgUnit.level == "community")
                    )
                ).all()
            }
            old_codes = {r.code for r in rows}
            grids = [(r.code, communities[r.parent_id][0], r.geometry["coordinates"][0]) for r in rows]
            names = {code: name for code, name in communities.values()}
            features = ten_thousand_grids(grids, names, target)
            t_cut = time.perf_counter() - t0
            admin_id = await session.scalar(select(StaffAccount.id).where(StaffAccount.username == "admin"))
            shared_hash = await session.scalar(
                select(StaffAccount.password_hash).where(StaffAccount.username.like("gw_%")).limit(1)
            )
            principal = Principal(kind="staff", id=admin_id or 0, name="admin", role="admin", scope_path="/")
            result = await import_grids(
                session, principal, GridImport.model_validate({"type": "FeatureCollection", "features": features})
            )
            new_codes = [f["properties"]["code"] for f in features if f["properties"]["code"] not in old_codes]
            new_ids = dict(
                (await session.execute(select(OrgUnit.code, OrgUnit.id).where(OrgUnit.code.in_(new_codes)))).all()
            )
            staff: list[dict[str, Any]] = []
            for code in new_codes:
                for prefix, label in (("gw", "网格员"), ("sw", "社工")):
                    staff.append(
                        {
                            "username": f"{prefix}_{code}",
                            "display_name": f"{code}{label}",
                            "role": "handler",
                            "scope_unit_id": new_ids[code],
                            "password_hash": shared_hash,
                        }
                    )
            if staff:
                await session.execute(insert(StaffAccount), staff)
                await session.execute(
                    insert(Team), [{"name": f"{code}服务团队", "grid_unit_id": new_ids[code]} for code in new_codes]
                )
            staff_ids = dict(
                (
                    await session.execute(
                        select(StaffAccount.username, StaffAccount.id).where(
                            StaffAccount.scope_unit_id.in_(list(new_ids.values()))
                        )
                    )
                ).all()
            )
            team_ids = dict(
                (
                    await session.execute(
                        select(Team.grid_unit_id, Team.id).where(Team.grid_unit_id.in_(list(new_ids.values())))
                    )
                ).all()
            )
            members = [
                {
                    "staff_id": staff_ids[f"{prefix}_{code}"],
                    "team_id": team_ids[new_ids[code]],
                    "department_id": None,
                    "team_role": role,
                    "on_duty": True,
                }
                for code in new_codes
                for prefix, role in (("gw", "grid_worker"), ("sw", "social_worker"))
            ]
            if members:
                await session.execute(insert(Member), members)
            grid_count = await session.scalar(select(func.count()).where(OrgUnit.level == "grid"))
    finally:
        await dispose_engine()
    return {
        "old": len(old_codes),
        "grids": grid_count,
        "created": result.created,
        "updated": result.updated,
        "new_teams": len(new_codes),
        "cut_s": t_cut,
        "total_s": time.perf_counter() - t0,
        "old_rings": {code: ring for code, _, ring in grids},
        "old_parent": {code: community for code, community, _ in grids},
    }


# ---- (a) lookup ------------------------------------------------------------------------------------


async def _grid_rows(dsn: str) -> list[tuple[int, str, dict[str, Any], str]]:
    import json

    import asyncpg

    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
        rows = await conn.fetch(
            "SELECT g.id, g.code, g.geometry, p.code AS parent FROM org_units g JOIN org_units p ON p.id = g.parent_id "
            "WHERE g.level = 'grid' ORDER BY g.code"
        )
        return [(r["id"], r["code"], r["geometry"], r["parent"]) for r in rows]
    finally:
        await conn.close()


def lookup_bench(grid_rows: list[tuple[int, str, dict[str, Any], str]], old: dict[str, Any]) -> dict[str, float]:
    import numpy as np
    import shapely

    from services.routing.grid_index import GridIndex, GridRecord

    t0 = time.perf_counter()
    index = GridIndex([GridRecord(gid, code, geometry) for gid, code, geometry, _ in grid_rows])
    build_s = time.perf_counter() - t0
    parent_of_code = {code: parent for _, code, _, parent in grid_rows}

    # Random points in the city: uniform in the grids' bounding box, kept when inside an old grid.
    old_codes = sorted(old["old_rings"])
    old_shapes = [shapely.Polygon(old["old_rings"][code]) for code in old_codes]
    old_tree = shapely.STRtree(old_shapes)
    bounds = np.array([s.bounds for s in old_shapes])
    rng = np.random.default_rng(SEED)
    xs_all: list[Any] = []
    ys_all: list[Any] = []
    owners: list[int] = []
    tries = 0
    while sum(len(x) for x in xs_all) < LOOKUP_POINTS and tries < 20:
        tries += 1
        xs = rng.uniform(bounds[:, 0].min(), bounds[:, 2].max(), LOOKUP_POINTS)
        ys = rng.uniform(bounds[:, 1].min(), bounds[:, 3].max(), LOOKUP_POINTS)
        point_idx, tree_idx = old_tree.query(shapely.points(xs, ys), predicate="intersects")
        first_owner: dict[int, int] = {}
        for pi, ti in zip(point_idx.tolist(), tree_idx.tolist(), strict=True):
            first_owner.setdefault(pi, ti)
        keep = sorted(first_owner)
        xs_all.append(xs[keep])
        ys_all.append(ys[keep])
        owners.extend(first_owner[k] for k in keep)
    xs = np.concatenate(xs_all)[:LOOKUP_POINTS].tolist()
    ys = np.concatenate(ys_all)[:LOOKUP_POINTS].tolist()
    owners = owners[:LOOKUP_POINTS]

    # Warm-up, then one timed call per point.
    for i in range(2000):
        index.locate(xs[i], ys[i])
    times_ns = [0] * len(xs)
    results: list[tuple[int, str] | None] = [None] * len(xs)
    clock = time.perf_counter_ns
    locate = index.locate
    t_all = time.perf_counter()
    for i in range(len(xs)):
        t = clock()
        results[i] = locate(xs[i], ys[i])
        times_ns[i] = clock() - t
    loop_s = time.perf_counter() - t_all
    misses = sum(1 for r in results if r is None)
    wrong = [
        i
        for i, (r, o) in enumerate(zip(results, owners, strict=True))
        if r is not None and parent_of_code[r[1]] != old["old_parent"][old_codes[o]]
    ]
    # How far those are from the old grid's border, in metres (1 degree of latitude ~ 111 km).
    wrong_m = max(
        (old_shapes[owners[i]].exterior.distance(shapely.Point(xs[i], ys[i])) * 111_000 for i in wrong), default=0.0
    )
    ordered = sorted(float(t) for t in times_ns)
    empty = sorted(-(clock() - clock()) for _ in range(10000))
    return {
        "grids": len(index),
        "build_s": build_s,
        "points": len(xs),
        "median_us": ordered[len(ordered) // 2] / 1000,
        "p90_us": kit.percentile(ordered, 90) / 1000,
        "p99_us": kit.percentile(ordered, 99) / 1000,
        "mean_us": loop_s / len(xs) * 1e6,
        "misses": misses,
        "wrong_community": len(wrong),
        "wrong_m": wrong_m,
        "timer_ns": empty[len(empty) // 2],
    }


# ---- (b) one worker's routing rate ----------------------------------------------------------------


async def insert_requests(dsn: str, points: list[tuple[float, float]], prefix: str) -> list[int]:
    """Write requests as intake does (row, `received` event, outbox entry), straight into the database."""
    import json

    import asyncpg

    from services.lifecycle.events import GENESIS, _hashed_fields, event_hash
    from services.models import RequestEvent

    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        categories = {
            r["code"]: ("high" if r["key_group"] and r["default_priority"] != "emergency" else r["default_priority"])
            for r in await conn.fetch("SELECT code, default_priority, key_group FROM categories")
        }
        root = await conn.fetchval("SELECT path FROM org_units WHERE parent_id IS NULL")
        key_id = await conn.fetchval("SELECT id FROM api_keys ORDER BY id LIMIT 1")
        actor = f"key:{key_id}"
        now = datetime.now(UTC)
        n = len(points)
        cats = [kit.category_for(i) for i in range(n)]
        rows = await conn.fetch(
            """
            INSERT INTO requests (tracking_no, channel, category_code, description, priority, status, lat, lon,
                source_lat, source_lon, coord_system, unit_path, citizen_token_hash, citizen_phone_hash,
                attributes, received_at, respond_by, resolve_by, created_by, external_id)
            SELECT t, 'hotline', cat, d, pr, 'received', la, lo, la, lo, 'wgs84', $6, tok, ph, '{}'::jsonb,
                $7, $8, $9, $10, ext
            FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[], $11::float8[],
                        $12::text[], $13::text[], $14::text[]) AS u(t, cat, d, pr, la, lo, tok, ph, ext)
            RETURNING id, external_id, received_at
            """,
            [f"RB{secrets.token_hex(6).upper()}{i:06d}"[:20] for i in range(n)],
            cats,
            [f"批量路由压测诉求第{i}号" for i in range(n)],
            [categories[cat] for cat in cats],
            [pt[1] for pt in points],
            root,
            now,
            now + timedelta(hours=2),
            now + timedelta(days=7),
            actor,
            [pt[0] for pt in points],
            [secrets.token_hex(32) for _ in range(n)],
            [secrets.token_hex(32) for _ in range(n)],
            [f"{prefix}-{i}" for i in range(n)],
        )
        by_index = {int(r["external_id"].rsplit("-", 1)[1]): (r["id"], r["received_at"]) for r in rows}
        ids = [by_index[i][0] for i in range(n)]
        events: list[tuple[Any, ...]] = []
        for i in range(n):
            request_id, received_at = by_index[i]
            data = {"channel": "hotline", "priority": categories[cats[i]], "sla_policy_id": None, "duplicate_of": None}
            event = RequestEvent(
                request_id=request_id,
                seq=1,
                kind="received",
                actor=actor,
                from_status=None,
                to_status="received",
                note=None,
                public=False,
                data=data,
                occurred_at=received_at.replace(microsecond=0),
            )
            digest = event_hash(GENESIS, _hashed_fields(event))
            events.append((request_id, json.dumps(data), event.occurred_at, digest))
        await conn.execute(
            """
            INSERT INTO request_events (request_id, seq, kind, actor, to_status, public, data, occurred_at,
                prev_hash, hash)
            SELECT rid, 1, 'received', $1, 'received', false, d::jsonb, o, $2, h
            FROM unnest($3::bigint[], $4::text[], $5::timestamptz[], $6::text[]) AS u(rid, d, o, h)
            """,
            actor,
            GENESIS,
            [e[0] for e in events],
            [e[1] for e in events],
            [e[2] for e in events],
            [e[3] for e in events],
        )
        await conn.execute(
            """
            INSERT INTO outbox (topic, job_id, request_id, payload)
            SELECT 'route', 'route:' || rid || ':1', rid, '{"version": 1}'::jsonb FROM unnest($1::bigint[]) AS u(rid)
            """,
            ids,
        )
        return ids
    finally:
        await conn.close()


async def enqueue_route_jobs(redis_url: str, ids: list[int]) -> int:
    """Enqueue route_request(id, 1) with the business-key job id, as intake does after commit."""
    from arq import create_pool
    from arq.connections import RedisSettings

    from services.lifecycle.changes import ROUTE_TASK, route_job_id
    from shared.queue import DEFAULT_QUEUE

    pool = await create_pool(RedisSettings.from_dsn(redis_url), default_queue_name=DEFAULT_QUEUE)
    sent = 0
    try:
        for start in range(0, len(ids), 500):
            jobs = await asyncio.gather(
                *(
                    pool.enqueue_job(ROUTE_TASK, rid, 1, _job_id=route_job_id(rid, 1))
                    for rid in ids[start : start + 500]
                )
            )
            sent += sum(1 for j in jobs if j is not None)
    finally:
        await pool.aclose()
    return sent


async def _count_routed(conn: Any, first_id: int) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM assignments WHERE request_id >= $1", first_id))


async def watch_routing(
    dsn: str,
    ids: list[int],
    worker: kit.Worker,
    max_cold_s: float,
    max_route_s: float,
    on_first: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Poll until every request has its routing decision, or `max_cold_s` pass without any, or
    `max_route_s` pass after the first: timings and rates."""
    import asyncpg

    conn = await asyncpg.connect(dsn, timeout=10)
    first_id = min(ids)
    t_first = None
    done_first = 0
    meter: kit.CpuMeter | None = None
    try:
        deadline = time.time() + max_cold_s
        done = 0
        while time.time() < deadline:
            done = await _count_routed(conn, first_id)
            if done and t_first is None:
                t_first = time.time()
                done_first = done
                deadline = t_first + max_route_s
                meter = kit.CpuMeter(worker.pid)
                if on_first is not None:
                    on_first()
            if done >= len(ids):
                break
            if not worker.alive():
                raise RuntimeError(f"the worker exited with {worker.process.returncode}:\n{worker.tail()}")
            await asyncio.sleep(0.1)
        t_done = time.time()
        if meter is not None:
            meter.stop()
        row = await conn.fetchrow(
            """
            SELECT count(*) AS n, extract(epoch FROM min(created_at))::float8 AS t0,
                   extract(epoch FROM max(created_at))::float8 AS t1,
                   extract(epoch FROM percentile_disc(0.05) WITHIN GROUP (ORDER BY created_at))::float8 AS t05,
                   extract(epoch FROM percentile_disc(0.95) WITHIN GROUP (ORDER BY created_at))::float8 AS t95,
                   count(*) FILTER (WHERE outcome = 'assigned' AND handler_id IS NOT NULL) AS to_handler,
                   count(*) FILTER (WHERE outcome = 'assigned' AND handler_id IS NULL) AS to_queue,
                   count(*) FILTER (WHERE outcome = 'needs_dispatch') AS needs_dispatch,
                   count(*) FILTER (WHERE routing_no > 1) AS rerouted
            FROM assignments WHERE request_id >= $1
            """,
            first_id,
        )
        multi = await conn.fetchval(
            "SELECT count(*) FROM (SELECT request_id FROM assignments WHERE request_id >= $1 "
            "GROUP BY request_id HAVING count(*) > 1) AS m",
            first_id,
        )
    finally:
        await conn.close()
    n = int(row["n"])
    span = (row["t1"] - row["t0"]) if n > 1 else math.nan
    return {
        "routed": n,
        "complete": n >= len(ids),
        "cold_start_s": (t_first - worker.started) if t_first else math.nan,
        # Seen from outside: decisions committed between the first poll that saw one and the last poll.
        "rate_first_last": (done - done_first) / (t_done - t_first) if t_first and t_done > t_first else math.nan,
        "first_to_last_s": (t_done - t_first) if t_first else math.nan,
        "span_s": span,
        "rate_middle": 0.9 * n / (row["t95"] - row["t05"]) if n > 20 and row["t95"] > row["t05"] else math.nan,
        "rate_from_spawn": n / (t_done - worker.started),
        "cpu": meter.describe(done - done_first) if meter else "",
        "to_handler": row["to_handler"],
        "to_queue": row["to_queue"],
        "needs_dispatch": row["needs_dispatch"],
        "multi": multi,
    }


async def clear_backlog(dsn: str, redis_url: str, ids: list[int]) -> int:
    """After a time-bounded (b): drop its queued jobs and close its outbox entries, so that (c)
    measures a worker without a backlog (the requests left stay `received`)."""
    import asyncpg
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        status = await conn.execute(
            "UPDATE outbox SET processed_at = now() WHERE processed_at IS NULL AND request_id = ANY($1::bigint[])", ids
        )
    finally:
        await conn.close()
    return int(status.split()[-1])


async def geodata_build_probe() -> dict[str, float]:
    """In this process: one GeoData build over the grid map, and how many builds 20 concurrent
    first jobs start in a fresh process (what a worker does when it starts with a full queue)."""
    from services.routing import geodata as gd
    from shared.db import dispose_engine, get_sessionmaker

    builds = 0
    original = gd._build

    async def counting(session: Any, stamp: Any) -> Any:
        nonlocal builds
        builds += 1
        return await original(session, stamp)

    try:
        gd.forget()
        async with get_sessionmaker()() as session:
            t0 = time.perf_counter()
            await gd.geodata(session)
            one = time.perf_counter() - t0
        gd.forget()
        gd._build = counting

        async def first_job() -> None:
            async with get_sessionmaker()() as session:
                await gd.geodata(session)

        t0 = time.perf_counter()
        await asyncio.gather(*(first_job() for _ in range(20)))
        herd = time.perf_counter() - t0
    finally:
        gd._build = original
        gd.forget()
        await dispose_engine()
    return {"one_build_s": one, "concurrent_builds": builds, "herd_s": herd}


# ---- (c) intake -> assigned ---------------------------------------------------------------------------


class AssignmentWatcher:
    """Polls `assignments` every `interval` s and notes, per request, when its routing_no = 1
    decision first became visible (time.time()), with the row's created_at (the routing
    transaction's start, by the database's clock).

    Ids are taken in insertion order but committed in any order (the worker runs jobs
    concurrently), so the poll asks for everything above the lowest id not seen yet; an id
    unseen for 5 s is taken for a gap (a rolled-back insert) and skipped.
    """

    def __init__(self, dsn: str, interval: float = 0.01) -> None:
        self.dsn = dsn
        self.interval = interval
        self.seen: dict[int, tuple[float, float, str]] = {}  # request id -> (visible, created_at, outcome)
        self.extra_decisions: Counter[int] = Counter()  # request id -> decisions beyond the first
        self.polls = 0
        self._low = 0  # every id <= _low has been seen (or given up as a gap)
        self._ids: set[int] = set()
        self._gaps: dict[int, float] = {}
        self._stop = asyncio.Event()

    async def start_at_current(self, conn: Any) -> None:
        self._low = int(await conn.fetchval("SELECT coalesce(max(id), 0) FROM assignments"))

    def stop(self) -> None:
        self._stop.set()

    async def run(self, max_seconds: float) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.dsn, timeout=10)
        try:
            await self.start_at_current(conn)
            deadline = time.monotonic() + max_seconds
            while not self._stop.is_set() and time.monotonic() < deadline:
                await self.poll(conn)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.interval)
            await self.poll(conn)
        finally:
            await conn.close()

    async def poll(self, conn: Any) -> None:
        rows = await conn.fetch(
            "SELECT id, request_id, routing_no, outcome, extract(epoch FROM created_at)::float8 AS created "
            "FROM assignments WHERE id > $1 ORDER BY id LIMIT 20000",
            self._low,
        )
        now = time.time()
        self.polls += 1
        for row in rows:
            if row["id"] in self._ids:
                continue
            self._ids.add(row["id"])
            if row["routing_no"] == 1 and row["request_id"] not in self.seen:
                self.seen[row["request_id"]] = (now, row["created"], row["outcome"])
            else:
                self.extra_decisions[row["request_id"]] += 1
        # Move the low-water mark over seen ids and over gaps older than 5 s.
        top = max(self._ids, default=self._low)
        low = self._low
        while low < top:
            nxt = low + 1
            if nxt in self._ids:
                self._ids.discard(nxt)
                low = nxt
                continue
            first = self._gaps.setdefault(nxt, now)
            if now - first > 5.0:
                del self._gaps[nxt]
                low = nxt
                continue
            break
        self._low = low


@dataclass
class Phase:
    label: str
    stats: kit.LoopStats
    watcher: AssignmentWatcher
    stopped: float  # time.time() when watching stopped


async def e2e_phase(
    port: int,
    headers: dict[str, str],
    dsn: str,
    points: list[tuple[float, float]],
    first: int,
    rate: float,
    seconds: float,
    label: str,
    prefix: str,
    wait_s: float,
) -> Phase:
    """Open-loop intake at `rate` while watching routing decisions appear; then up to `wait_s`
    for the last accepted requests to be routed."""
    watcher = AssignmentWatcher(dsn, interval=0.01)
    watch = asyncio.create_task(watcher.run(seconds + wait_s + 60))
    await asyncio.sleep(0.2)
    load = await kit.intake_open_loop(
        port, headers, points, prefix, rate=rate, duration=seconds, label=label, first=first
    )
    wanted = {r.request_id for r in load.accepted}
    for _ in range(int(wait_s * 10)):
        if wanted <= watcher.seen.keys():
            break
        await asyncio.sleep(0.1)
    watcher.stop()
    await watch
    return Phase(label, load, watcher, time.time())


async def warm_up(
    port: int, headers: dict[str, str], points: list[tuple[float, float]], rate: float, seconds: float
) -> kit.LoopStats:
    """Open-loop intake on points 0.. (prefix `e2w`), then a second's pause."""
    warm = await kit.intake_open_loop(
        port, headers, points, "e2w", rate=rate, duration=seconds, label=f"warm-up {rate:g}/s"
    )
    await asyncio.sleep(1.0)
    return warm


async def e2e_run(
    port: int, api_key: str, dsn: str, points: list[tuple[float, float]], phases: list[tuple[float, float]]
) -> tuple[kit.LoopStats, list[Phase]]:
    """Warm-up, then each (rate, seconds) phase in turn, on distinct points."""
    headers = {"X-API-Key": api_key}
    warm = await warm_up(port, headers, points, WARMUP_RATE, WARMUP_S)
    first = len(warm.records)
    done = []
    for number, (rate, seconds) in enumerate(phases):
        label = f"intake open loop {rate:g}/s for {seconds:g} s"
        done.append(await e2e_phase(port, headers, dsn, points, first, rate, seconds, label, f"e2e{number}", 20.0))
        first += len(done[-1].stats.records)
    return warm, done


@dataclass
class PhaseFigures:
    """Send -> decision visible over every request sent in a phase, ms."""

    p50: float
    p95: float
    p99: float
    unrouted: int  # sent but never answered 201, or answered and never seen routed
    lower_bound: bool  # unrouted > 0: they count with their waiting time so far


def report_phase(dsn: str, phase: Phase) -> PhaseFigures:
    """Print a phase's figures; return its send -> decision visible percentiles over every request
    sent (a request never answered or never routed counts with its waiting time so far: a lower bound)."""
    load, watcher = phase.stats, phase.watcher
    accepted = load.accepted
    kit.log(f"    {load.summary()}")
    db = asyncio.run(received_and_created(dsn, [r.request_id for r in accepted if r.request_id]))
    visible, txn_start, from_received, routing_txn = [], [], [], []
    unseen = 0
    for r in accepted:
        seen = watcher.seen.get(r.request_id or 0)
        if seen is None:
            unseen += 1
            continue
        visible.append((seen[0] - r.wall) * 1000)
        txn_start.append((seen[1] - r.wall) * 1000)
        routing_txn.append((seen[0] - seen[1]) * 1000)
        if r.request_id in db:
            rec, cre = db[r.request_id]
            from_received.append((cre - rec) * 1000)
    kit.log(
        f"    intake -> assigned for the {len(accepted)} requests answered 201 "
        f"({unseen} not routed within 20 s after the load; {watcher.polls} polls of `assignments`):"
    )
    kit.log(pct_line("send -> decision visible (commit)   ", visible))
    kit.log(pct_line("send -> routing transaction start   ", txn_start))
    kit.log(pct_line("received_at -> routing txn start    ", from_received))
    kit.log(pct_line("routing txn start -> visible (+poll)", routing_txn))
    seen_ids = {r.request_id for r in accepted if r.request_id in watcher.seen}
    waiting = [(phase.stopped - r.wall) * 1000 for r in load.records if r.request_id not in seen_ids]
    every = sorted(visible + waiting)
    p95 = kit.percentile(every, 95)
    bound = " (a lower bound: some were never answered or routed)" if waiting else ""
    kit.log(
        f"    over all {len(load.records)} requests sent: send -> decision visible p50 "
        f"{kit.fmt(kit.percentile(every, 50), 1)} ms, p95 {kit.fmt(p95, 1)} ms{bound}"
    )
    return PhaseFigures(kit.percentile(every, 50), p95, kit.percentile(every, 99), len(waiting), bool(waiting))


async def received_and_created(dsn: str, ids: list[int]) -> dict[int, tuple[float, float]]:
    import asyncpg

    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        rows = await conn.fetch(
            "SELECT r.id, extract(epoch FROM r.received_at)::float8 AS rec, extract(epoch FROM a.created_at)::float8 AS cre "
            "FROM requests r JOIN assignments a ON a.request_id = r.id AND a.routing_no = 1 WHERE r.id = ANY($1::bigint[])",
            ids,
        )
        return {r["id"]: (r["rec"], r["cre"]) for r in rows}
    finally:
        await conn.close()


def pct_line(name: str, values_ms: list[float]) -> str:
    ordered = sorted(values_ms)
    return (
        f"  {name}: n={len(ordered)} p50 {kit.fmt(kit.percentile(ordered, 50), 1)} ms, "
        f"p95 {kit.fmt(kit.percentile(ordered, 95), 1)} ms, p99 {kit.fmt(kit.percentile(ordered, 99), 1)} ms, "
        f"max {kit.fmt(ordered[-1] if ordered else math.nan, 1)} ms"
    )


# ---- --embedded: intake -> routed under `make run` ---------------------------------------------------

EMBEDDED_RATE = 40.0
LAUNCH_TIMEOUT_S = 900.0  # a fresh data directory: initdb, migrations, the demo city, four processes
LAUNCHER_STOP_S = 90.0  # the launcher gives its children 10 s, then stops Redis and PostgreSQL (30 s each)
WARMUP_ROUTED_S = 120.0  # bound on waiting for the warm-up's requests to be routed
# Where `python -m cli load-demo` (the launcher's demo step, given no --credentials-file) writes the
# credentials, whatever the data directory: cli/__main__.py's CREDENTIALS_FILE.
REPO_CREDENTIALS_FILE = kit.ROOT / ".data" / "demo-credentials.txt"
# Launcher log lines that show Redis trouble on the intake -> routing path: (key of the last line, text).
LOG_MARKERS: tuple[tuple[str, str], ...] = (
    ("skipped_enqueues", "enqueue skipped"),
    ("failed_enqueues", "enqueue failed"),
    ("uncounted_rate_limits", "rate limit not counted"),
    ("redis_command_errors", "Redis command error"),
    ("relay_resends", "outbox relay re-sent"),
)
_API_KEY_LINE = re.compile(r"API key: (\S+)")
_DATABASE_LINE = re.compile(r"^\[minqing\] DATABASE_URL=(\S+)$", re.MULTILINE)
_REDIS_LINE = re.compile(r"^\[minqing\] REDIS_URL=(\S+)$", re.MULTILINE)
_BANNER = "[minqing] Minqing is running:"


class Launcher(kit.Server):
    """`python -m cli run --data-dir DIR` (what `make run` runs, on a data directory of its own),
    its whole output (its own lines and its children's, prefixed by their names) in `launcher.log`;
    stopped with SIGTERM to its own pid (it stops its children and the embedded servers)."""

    def __init__(self, data_dir: Path, env: dict[str, str], port: int, log_dir: Path) -> None:
        command = [kit.PYTHON, "-m", "cli", "run", "--data-dir", str(data_dir)]
        super().__init__("launcher", command, env, port, log_dir)
        self.data_dir = data_dir

    def text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def wait_running(self, timeout: float) -> tuple[str, str, str]:
        """Wait for the banner and a ready intake API: (API key, asyncpg DSN, Redis URL)."""
        deadline = time.monotonic() + timeout
        text = ""
        while _BANNER not in text:
            if self.process.poll() is not None:
                raise RuntimeError(f"the launcher exited with {self.process.returncode}:\n{self.tail(60)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the launcher printed no banner within {timeout:.0f} s:\n{self.tail(60)}")
            time.sleep(0.5)
            text = self.text()
        key, database, redis_url = _API_KEY_LINE.search(text), _DATABASE_LINE.search(text), _REDIS_LINE.search(text)
        if key is None or database is None or redis_url is None:
            raise RuntimeError(f"the launcher printed no API key, DATABASE_URL or REDIS_URL:\n{self.tail(60)}")
        if "***" in database.group(1):
            raise RuntimeError("the launcher's DATABASE_URL has a (redacted) password: not the embedded server")
        self.wait_ready("/readyz", timeout=max(5.0, deadline - time.monotonic()))
        dsn = database.group(1).replace("postgresql+asyncpg://", "postgresql://", 1)
        return key.group(1), dsn, redis_url.group(1)

    def descendants(self) -> list[Any]:
        """Every process below the launcher now (its four children, PostgreSQL's, redis-server)."""
        import psutil

        try:
            return list(psutil.Process(self.pid).children(recursive=True))
        except psutil.NoSuchProcess:
            return []

    def child_pid(self, marker: str) -> int | None:
        """The pid of the launcher's child whose command line contains `marker`."""
        import psutil

        for proc in self.descendants():
            with contextlib.suppress(psutil.Error):
                if marker in " ".join(proc.cmdline()):
                    return int(proc.pid)
        return None

    def count_lines(self) -> dict[str, int]:
        """How many lines of the log contain each of LOG_MARKERS."""
        lines = self.text().splitlines()
        return {key: sum(1 for line in lines if text in line) for key, text in LOG_MARKERS}


def leftover_processes(known: list[Any], data_dir: Path) -> list[Any]:
    """Of `known` (psutil processes seen under the launcher), those still running, and any other
    process working in or naming `data_dir` (a PostgreSQL backend started later, a redis-server)."""
    import psutil

    left: dict[int, Any] = {}
    for proc in known:
        with contextlib.suppress(psutil.Error):
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                left[proc.pid] = proc
    where = str(data_dir)
    for proc in psutil.process_iter(["cmdline", "cwd"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if where in cmdline or (proc.info["cwd"] or "").startswith(where):
            with contextlib.suppress(psutil.Error):
                if proc.status() != psutil.STATUS_ZOMBIE and proc.pid != os.getpid():
                    left[proc.pid] = proc
    return list(left.values())


def describe_process(proc: Any) -> str:
    import psutil

    try:
        return f"{proc.pid} {' '.join(proc.cmdline())[:120]}"
    except psutil.Error:
        return f"{proc.pid} (gone)"


@contextlib.contextmanager
def file_restored(path: Path) -> Iterator[None]:
    """Put `path` back as it was on exit: its old content, or no file (and no new empty folder)."""
    before = path.read_bytes() if path.exists() else None
    folder_existed = path.parent.exists()
    try:
        yield
    finally:
        if before is not None:
            path.write_bytes(before)
        else:
            path.unlink(missing_ok=True)
            if not folder_existed:
                with contextlib.suppress(OSError):
                    path.parent.rmdir()  # only if empty


async def wait_routed(dsn: str, ids: list[int], max_seconds: float) -> tuple[int, float]:
    """Wait (up to `max_seconds`) for every request in `ids` to have a routing decision: (routed, s)."""
    import asyncpg

    conn = await asyncpg.connect(dsn, timeout=10)
    t0 = time.monotonic()
    try:
        while True:
            routed = int(
                await conn.fetchval(
                    "SELECT count(DISTINCT request_id) FROM assignments WHERE request_id = ANY($1::bigint[])", ids
                )
            )
            if routed >= len(ids) or time.monotonic() - t0 > max_seconds:
                return routed, time.monotonic() - t0
            await asyncio.sleep(0.2)
    finally:
        await conn.close()


async def embedded_load(
    port: int, api_key: str, dsn: str, points: list[tuple[float, float]], rate: float, seconds: float
) -> tuple[kit.LoopStats, int, float, Phase]:
    """Warm-up at `rate`, until its requests are routed (the worker's first build of the grid
    map, the first connections); then one measured phase at `rate` for `seconds`."""
    headers = {"X-API-Key": api_key}
    warm = await warm_up(port, headers, points, rate, WARMUP_S)
    routed, waited = await wait_routed(dsn, [r.request_id for r in warm.accepted if r.request_id], WARMUP_ROUTED_S)
    label = f"intake open loop {rate:g}/s for {seconds:g} s"
    phase = await e2e_phase(port, headers, dsn, points, len(warm.records), rate, seconds, label, "emb", 20.0)
    return warm, routed, waited, phase


def embedded_main(rate: float, seconds: float, keep_log: Path | None) -> int:
    """`make run`'s launcher on a fresh data directory, embedded PostgreSQL 18 and Redis 6.2:
    intake -> routed at `rate` for `seconds`; what its log says about Redis; a clean stop."""
    started = time.monotonic()
    figures = PhaseFigures(math.nan, math.nan, math.nan, 0, False)
    counts = dict.fromkeys((key for key, _ in LOG_MARKERS), 0)
    left: list[Any] = []
    with (
        kit.stop_on_sigterm(),
        tempfile.TemporaryDirectory(prefix="mq-bench-embedded-") as tmp_name,
        file_restored(REPO_CREDENTIALS_FILE),
    ):
        tmp = Path(tmp_name)
        intake_port = kit.free_port()
        scoring_port = kit.free_port()
        while scoring_port == intake_port:
            scoring_port = kit.free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        # SECRET_KEY: what `make run` would read from (and first write to) .data/secret_key in the repo.
        env.update(INTAKE_PORT=str(intake_port), SCORING_PORT=str(scoring_port), SECRET_KEY=secrets.token_urlsafe(48))
        kit.log(
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; starting `python -m cli run "
            f"--data-dir {tmp / 'data'}` (intake :{intake_port}, scoring :{scoring_port}, no DATABASE_URL/REDIS_URL)"
        )
        t0 = time.monotonic()
        launcher = Launcher(tmp / "data", env, intake_port, tmp)
        known: list[Any] = []
        try:
            api_key, dsn, redis_url = launcher.wait_running(LAUNCH_TIMEOUT_S)
            known = launcher.descendants()
            kit.log(
                f"launcher running after {time.monotonic() - t0:.1f} s: {len(known)} processes under it; "
                f"PostgreSQL {dsn}, Redis {redis_url}"
            )
            rows = asyncio.run(_grid_rows(dsn))
            points = kit.land_points([r[2] for r in rows], int(rate * WARMUP_S) + int(rate * seconds) + 10, SEED)
            pids = {
                "launcher (relays every child's output)": launcher.pid,
                "intake API": launcher.child_pid("intake_api.app:app"),
                "routing worker": launcher.child_pid("routing_worker.worker.WorkerSettings"),
            }
            meters = {name: kit.CpuMeter(pid) for name, pid in pids.items() if pid is not None}
            warm, warm_routed, warm_wait, phase = kit.run_async(
                embedded_load(intake_port, api_key, dsn, points, rate, seconds)
            )
            for meter in meters.values():
                meter.stop()
            sent = len(warm.records) + len(phase.stats.records)
            kit.log(f"{warm.summary()}")
            kit.log(f"    {warm_routed}/{len(warm.accepted)} warm-up requests routed after {warm_wait:.1f} s")
            for name, meter in meters.items():
                kit.log(f"    {name}: {meter.describe(sent)} (per request sent)")
            figures = report_phase(dsn, phase)
        finally:
            known += launcher.descendants()
            kit.log("stopping the launcher (SIGTERM)")
            t0 = time.monotonic()
            launcher.stop(LAUNCHER_STOP_S)
            code = launcher.process.returncode
            kit.log(f"    launcher exited with {code} after {time.monotonic() - t0:.1f} s")
            left = leftover_processes(known, launcher.data_dir)
            busy = [port for port in (intake_port, scoring_port) if kit.tcp_answers(kit.HOST, port, 0.5)]
            if left or busy:
                kit.log(f"    LEFT RUNNING: {[describe_process(q) for q in left]}; ports still answering: {busy}")
                for proc in left:  # ours: started under the launcher, or working in its data directory
                    with contextlib.suppress(Exception):
                        proc.kill()
            else:
                kit.log(f"    nothing left running ({len({q.pid for q in known})} processes seen under it are gone)")
            counts = launcher.count_lines()
            if keep_log is not None:
                keep_log.write_bytes(launcher.log_path.read_bytes())
                kit.log(f"    launcher log kept in {keep_log}")
    kit.log("")
    kit.log("launcher log lines: " + ", ".join(f"{text!r} {counts[key]}" for key, text in LOG_MARKERS))
    kit.log(
        f"under `make run` (embedded PostgreSQL and Redis): intake -> routed p50 {figures.p50:.0f} ms, "
        f"p95 {'>= ' if figures.lower_bound else ''}{figures.p95:.0f} ms, p99 {figures.p99:.0f} ms at {rate:g} req/s "
        f"for {seconds:g} s (target p95 <= 250: {'met' if figures.p95 <= 250 else 'MISSED'}); "
        f"{figures.unrouted} not routed; run took {time.monotonic() - started:.0f} s"
    )
    print(
        f"embedded_e2e_p50_ms={figures.p50:.0f} embedded_e2e_p95_ms={figures.p95:.0f} "
        f"embedded_e2e_p99_ms={figures.p99:.0f} rate={rate:g} seconds={seconds:g} unrouted={figures.unrouted} "
        + " ".join(f"{key}={counts[key]}" for key, _ in LOG_MARKERS)
        + f" leftover_processes={len(left)}",
        flush=True,
    )
    return 0 if not left else 1


# ---- main ------------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=ROUTE_REQUESTS, help="requests routed in (b)")
    parser.add_argument(
        "--rate", type=float, default=None, help=f"intake rate in (c), req/s ({RATE:g}; --embedded: {EMBEDDED_RATE:g})"
    )
    parser.add_argument("--seconds", type=float, default=E2E_S, help="length of (c) or of the --embedded load, s")
    parser.add_argument(
        "--ref-rate",
        type=float,
        default=REF_RATE,
        help=f"a {REF_S:g} s reference phase before (c) at this rate; 0: none",
    )
    parser.add_argument("--py-spy", action="store_true", help="sample the worker (and API) with py-spy")
    parser.add_argument(
        "--embedded",
        action="store_true",
        help="instead: intake -> routed under `python -m cli run` (make run) with its embedded servers",
    )
    parser.add_argument("--launcher-log", type=Path, default=None, help="--embedded: keep the launcher's output here")
    args = parser.parse_args(argv)
    if args.embedded:
        return embedded_main(EMBEDDED_RATE if args.rate is None else args.rate, args.seconds, args.launcher_log)
    if args.rate is None:
        args.rate = RATE
    started = time.monotonic()
    servers: list[kit.Server] = []
    lookup_median = routed_per_s = e2e_p95 = math.nan
    lower_bound = False

    with kit.bench_run("routing", DATABASE, REDIS_DB) as (svc, tmp):
        try:
            t0 = time.monotonic()
            env, api_key = kit.set_up(svc, tmp)
            kit.log(f"migrated and loaded the demo city in {time.monotonic() - t0:.1f} s")
            grid = asyncio.run(extend_grid_map(TARGET_GRIDS))
            kit.log(
                f"grid map: {grid['old']} demo grids cut into {grid['grids']} ({grid['updated']} demo codes given new "
                f"polygons, {grid['created']} created, {grid['new_teams']} new teams with 2 members on duty) in "
                f"{grid['total_s']:.1f} s (cutting {grid['cut_s']:.1f} s)"
            )

            # ---- (a) ----------------------------------------------------------------------------
            rows = asyncio.run(_grid_rows(svc.dsn))
            look = lookup_bench(rows, grid)
            lookup_median = look["median_us"]
            kit.log(
                f"(a) GridIndex over {look['grids']} grids (built in {look['build_s']:.2f} s): {look['points']} "
                f"random points in the city, locate median {look['median_us']:.1f} µs, p90 {look['p90_us']:.1f} µs, "
                f"p99 {look['p99_us']:.1f} µs, mean {look['mean_us']:.1f} µs (each includes ~{look['timer_ns']} ns of timer); "
                f"points finding no grid {look['misses']}, in another community {look['wrong_community']} "
                f"(all within {look['wrong_m']:.2f} m of the old border)"
            )
            probe = asyncio.run(geodata_build_probe())
            kit.log(
                f"    GeoData build (grids + units + rules + index) {probe['one_build_s']:.2f} s; 20 jobs asking for "
                f"it at once in a fresh process start {probe['concurrent_builds']} builds "
                f"({probe['herd_s']:.2f} s)"
            )

            # ---- points: distinct, >= ~66 m apart, for (b) and (c) --------------------------------
            n_e2e = int(args.rate * args.seconds) + int(args.ref_rate * REF_S) + int(WARMUP_RATE * WARMUP_S) + 10
            pts = kit.land_points([r[2] for r in rows], args.requests + n_e2e, SEED)
            route_points, e2e_points = pts[: args.requests], pts[args.requests :]

            # ---- (b) ----------------------------------------------------------------------------
            t0 = time.monotonic()
            ids = asyncio.run(insert_requests(svc.dsn, route_points, "rb"))
            t_insert = time.monotonic() - t0
            t0 = time.monotonic()
            sent = asyncio.run(enqueue_route_jobs(svc.redis_url, ids))
            kit.log(
                f"(b) {len(ids)} requests + events + outbox written in {t_insert:.1f} s; {sent} route jobs enqueued "
                f"in {time.monotonic() - t0:.1f} s; starting one worker"
            )
            worker = kit.Worker("worker", env, tmp)
            servers.append(worker)
            spy_out = tmp / "py-spy-route.txt"
            spies: list[tuple[Any, Path, str]] = []

            def profile_worker() -> None:
                if args.py_spy:
                    spies.append((kit.py_spy_record(worker.pid, 20, spy_out), spy_out, "worker during (b)"))

            routed = asyncio.run(
                watch_routing(svc.dsn, ids, worker, ROUTE_MAX_COLD_S, ROUTE_MAX_S, on_first=profile_worker)
            )
            routed_per_s = routed["rate_first_last"]
            kit.log(
                f"    routed {routed['routed']}/{len(ids)}"
                f"{'' if routed['complete'] else f' (stopped at the {ROUTE_MAX_S:g} s bound)'}: "
                f"{routed['rate_first_last']:.0f} routed/s from the first decision seen to the last "
                f"({routed['first_to_last_s']:.1f} s), middle 90% by transaction start: {routed['rate_middle']:.0f}/s, "
                f"from the worker's start: {routed['rate_from_spawn']:.0f}/s (start to first decision "
                f"{routed['cold_start_s']:.1f} s)"
            )
            kit.log(
                f"    outcomes: {routed['to_handler']} to a handler, {routed['to_queue']} to a team/department queue, "
                f"{routed['needs_dispatch']} needs_dispatch; requests with more than one decision: {routed['multi']}"
            )
            kit.log(f"    worker (from the first decision on) {routed['cpu']}")
            if not routed["complete"]:
                closed = asyncio.run(clear_backlog(svc.dsn, svc.redis_url, ids))
                kit.log(f"    backlog cleared for (c): Redis db {REDIS_DB} flushed, {closed} outbox entries closed")
                time.sleep(1.0)
            for spy_proc, out, label in spies:
                kit.py_spy_report(spy_proc, out, label=label)
            spies.clear()

            # ---- (c) ----------------------------------------------------------------------------
            port = kit.free_port()
            api = kit.Server("intake", kit.uvicorn_args("intake_api.app:app", port), env, port, tmp)
            servers.append(api)
            api.wait_ready("/healthz")
            api_meter = kit.CpuMeter(api.pid)
            worker_meter = kit.CpuMeter(worker.pid)
            if args.py_spy:
                spies = [
                    (kit.py_spy_record(worker.pid, 20, tmp / "spy-w.txt"), tmp / "spy-w.txt", "worker during (c)"),
                    (kit.py_spy_record(api.pid, 20, tmp / "spy-a.txt"), tmp / "spy-a.txt", "intake API during (c)"),
                ]
            phases = [(args.ref_rate, REF_S), (args.rate, args.seconds)] if args.ref_rate > 0 else []
            phases = phases or [(args.rate, args.seconds)]
            warm, done = kit.run_async(e2e_run(port, api_key, svc.dsn, e2e_points, phases))
            api_meter.stop()
            worker_meter.stop()
            sent = len(warm.records) + sum(len(ph.stats.records) for ph in done)
            kit.log(f"(c) {warm.summary()}")
            kit.log(
                f"    intake API {api_meter.describe(sent)}; worker {worker_meter.describe(sent)} (per request sent)"
            )
            for phase in done:
                figures = report_phase(svc.dsn, phase)
                e2e_p95, lower_bound = figures.p95, figures.lower_bound
            for spy_proc, out, label in spies:
                kit.py_spy_report(spy_proc, out, label=label)
        finally:
            kit.stop_all(servers)

    kit.log("")
    kit.log(f"py-spy: {kit.py_spy_version()}")
    kit.log(
        f"lookup median {lookup_median:.1f} µs (target <= 50: {'met' if lookup_median <= 50 else 'MISSED'}); "
        f"one worker {routed_per_s:.0f} routed/s (target >= 500: {'met' if routed_per_s >= 500 else 'MISSED'}); "
        f"intake -> assigned p95 {'>= ' if lower_bound else ''}{e2e_p95:.0f} ms at {args.rate:g} req/s "
        f"(target <= 250: {'met' if e2e_p95 <= 250 else 'MISSED'}); run took {time.monotonic() - started:.0f} s"
    )
    print(f"lookup_median_us={lookup_median:.1f} routed_per_s={routed_per_s:.0f} e2e_p95_ms={e2e_p95:.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
