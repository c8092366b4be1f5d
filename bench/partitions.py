"""History that stays fast (issue 17, item 5): a year of requests in twelve monthly partitions, and the
dispatcher's list queries and a request's read timed through the service, as the API runs them.

The database is made as a city that upgraded before the year would have it: migrated to head, the legacy
partition narrowed to the ids before 2025 (it holds only the demo city's few requests), then the partition job
(`services.lifecycle.partitions.roll`) run for each month of 2025, and each month's requests inserted with the
ids the sequence would have issued that month (server-side `INSERT … SELECT generate_series`, with two trail
events each). The search index is dropped for the load (bench/search.py measures search); every other index
is kept. Then, per query kind, random district and city dispatchers:

* `list`: `GET /v1/requests` in scope, newest first;
* `status`: `?status=assigned` (and `needs_dispatch`), newest first;
* `due`: `?sort=due&status=assigned`, the nearest deadline first;
* `overdue`: `?sla_state=overdue&sort=due`;
* `read`: `GET /v1/requests/{id}` and `GET /v1/requests/{id}/events` of a random request of the year.

Target (issue 17): p95 ≤ 50 ms for each. Last line: `requests=N list_p95_ms=… status_p95_ms=… due_p95_ms=…
overdue_p95_ms=… read_p95_ms=… partitions_made=N`.

    .venv/bin/python -m bench.partitions                       # 12,000,000 requests (make bench: --requests 1200000)
    .venv/bin/python -m bench.partitions --skip-generate       # time again on the kept database
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bench import kit

DATABASE = "minqing_bench_partitions"
REDIS_DB = 13
SEED = 20261205
SHANGHAI = ZoneInfo("Asia/Shanghai")
YEAR = 2025

# Per mille of a month's requests in each status: the last months hold the open work, the older ones are
# closed but for a few stragglers (as a city's year looks on 31 December).
OLD_MONTH = {"closed": 985, "resolved": 5, "accepted": 4, "assigned": 4, "needs_dispatch": 2}
LAST_MONTH = {"closed": 600, "resolved": 120, "accepted": 120, "assigned": 120, "needs_dispatch": 40}


def _status_case(mix: dict[str, int]) -> str:
    """A SQL CASE over `h` (0..999) giving each status its share."""
    parts, upto = [], 0
    for status, share in mix.items():
        upto += share
        parts.append(f"WHEN h < {upto} THEN '{status}'")
    return "CASE " + " ".join(parts) + " END"


_INSERT_MONTH = """
INSERT INTO requests (id, tracking_no, channel, category_code, description, priority, status, sla_state,
    org_unit_id, unit_path, citizen_token_hash, received_at, respond_by, resolve_by, lead_team_id, created_by,
    address, accepted_at, closed_at)
SELECT $1::bigint + g, 'B' || ($1::bigint + g), (ARRAY['hotline','hotline','app','web','window'])[1 + g % 5],
    c.code, '小区楼下夜间施工噪音扰民，请尽快处理', 'normal', s.status,
    CASE WHEN s.status IN ('closed', 'resolved') THEN 'ok' WHEN h % 10 = 0 THEN 'overdue'
         WHEN h % 10 = 1 THEN 'warning' ELSE 'ok' END,
    grid.id, grid.path, repeat('0', 64), t.at, t.at + interval '2 hours', t.at + interval '7 days', grid.team_id,
    'bench', '中山路' || (g % 400) || '号',
    CASE WHEN s.status NOT IN ('needs_dispatch', 'assigned') THEN t.at + interval '1 hour' END,
    CASE WHEN s.status = 'closed' THEN t.at + interval '5 days' END
FROM generate_series(1, $2::bigint) AS g
CROSS JOIN LATERAL (SELECT (g * 2654435761) % 1000 AS h) AS hh
CROSS JOIN LATERAL (SELECT {status} AS status) AS s
CROSS JOIN LATERAL (SELECT $3::timestamptz + ($4::interval * (g::float8 / $2::bigint)) AS at) AS t
JOIN bench_grids AS grid ON grid.n = g % (SELECT count(*) FROM bench_grids)
JOIN bench_categories AS c ON c.n = (g * 7) % (SELECT count(*) FROM bench_categories)
"""

_EVENTS = """
INSERT INTO request_events (request_id, seq, kind, actor, to_status, occurred_at, prev_hash, hash)
SELECT id, e.seq, e.kind, 'system:bench', e.kind, received_at + (e.seq - 1) * interval '1 minute', '', ''
FROM {partition} CROSS JOIN (VALUES (1, 'received'), (2, 'assigned')) AS e(seq, kind)
"""


async def generate(dsn: str, total: int) -> int:
    """Twelve monthly partitions of `total` requests in all, two events each; answers the partitions made."""
    import asyncpg

    os.environ["DATABASE_URL"] = dsn.replace("postgresql://", "postgresql+asyncpg://")
    from shared.settings import get_settings

    get_settings.cache_clear()
    from services.lifecycle import partitions
    from shared.db import dispose_engine, unit_of_work

    conn = await asyncpg.connect(dsn)
    try:
        # The city upgraded before 2025: its legacy partition ends where January 2025 begins.
        start = partitions.first_id(YEAR, 1)
        for table in partitions.PARTITIONED:
            await conn.execute(f"ALTER TABLE {table} DETACH PARTITION {table}_legacy")
            await conn.execute(
                f"ALTER TABLE {table} ATTACH PARTITION {table}_legacy FOR VALUES FROM (MINVALUE) TO ({start})"
            )
        await conn.execute("DROP INDEX ix_requests_search_keys")
        await conn.execute(
            "CREATE UNLOGGED TABLE bench_grids AS SELECT row_number() OVER (ORDER BY u.id) - 1 AS n, u.id, u.path,"
            " t.id AS team_id FROM org_units u LEFT JOIN teams t ON t.grid_unit_id = u.id WHERE u.level = 'grid'"
        )
        await conn.execute(
            "CREATE UNLOGGED TABLE bench_categories AS SELECT row_number() OVER (ORDER BY code) - 1 AS n, code"
            " FROM categories c WHERE NOT EXISTS (SELECT 1 FROM categories k WHERE k.parent_code = c.code)"
        )
    finally:
        await conn.close()
    made = 0
    per_month = total // 12
    for month in range(1, 13):
        async with unit_of_work() as session:
            rolled = await partitions.roll(session, datetime(YEAR, month, 1, 12, tzinfo=SHANGHAI))
        made += len(rolled.created)
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("SET session_replication_role = replica")  # no FK checks for bench rows
            begin = datetime(YEAR, month, 1, tzinfo=SHANGHAI)
            end = datetime(YEAR + month // 12, month % 12 + 1, 1, tzinfo=SHANGHAI)
            mix = LAST_MONTH if month == 12 else OLD_MONTH
            t0 = time.perf_counter()
            count = per_month if month < 12 else total - per_month * 11
            await conn.execute(
                _INSERT_MONTH.format(status=_status_case(mix)),
                partitions.first_id(YEAR, month),
                count,
                begin,
                end - begin,
            )
            await conn.execute(_EVENTS.format(partition=partitions.partition_name("requests", YEAR, month)))
            kit.log(f"  {YEAR}-{month:02d}: {count:,} requests and their events in {time.perf_counter() - t0:.0f} s")
        finally:
            await conn.close()
    await dispose_engine()
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DROP TABLE bench_grids, bench_categories")
        await conn.execute("VACUUM ANALYZE requests")
        await conn.execute("VACUUM ANALYZE request_events")
        size = await conn.fetchval(
            "SELECT pg_size_pretty(sum(pg_total_relation_size(inhrelid))) FROM pg_inherits"
            " WHERE inhparent = 'requests'::regclass"
        )
        kit.log(f"  requests with their indexes: {size}")
    finally:
        await conn.close()
    return made


async def time_queries(database_url: str, rounds: int) -> dict[str, list[float]]:
    os.environ["DATABASE_URL"] = database_url
    from shared.settings import get_settings

    get_settings.cache_clear()
    from sqlalchemy import func, select

    from services.intake import service
    from services.intake.service import RequestFilters
    from services.models import OrgUnit, Request, StaffAccount
    from shared.auth import Principal
    from shared.db import dispose_engine, get_sessionmaker

    rng = random.Random(SEED)
    timings: dict[str, list[float]] = {k: [] for k in ("list", "status", "due", "overdue", "read")}
    async with get_sessionmaker()() as session:
        admin = (await session.execute(select(StaffAccount).where(StaffAccount.username == "admin"))).scalar_one()
        admin_id = admin.id
        districts = list(await session.scalars(select(OrgUnit.path).where(OrgUnit.level == "district")))
        city = await session.scalar(select(OrgUnit.path).where(OrgUnit.level == "city"))
        # Each month's ids are dense from its first id: (first, last) per month, to draw a request of the year.
        month_of = func.div(Request.id, 10**10)
        ranges = [
            (int(first), int(last))
            for first, last in await session.execute(
                select(func.min(Request.id), func.max(Request.id)).where(Request.id >= 10**10).group_by(month_of)
            )
        ]
        await session.rollback()

        def principal(i: int) -> Principal:
            scope = str(city) if i % 3 == 0 else districts[rng.randrange(len(districts))]
            return Principal(kind="staff", id=admin_id, name="d", role="dispatcher", scope_path=scope)

        async def timed(kind: str, call: Any) -> None:
            t0 = time.perf_counter()
            await call
            timings[kind].append((time.perf_counter() - t0) * 1000)
            await session.rollback()

        async def read() -> None:
            first, last = ranges[rng.randrange(len(ranges))]
            request_id = rng.randint(first, last)
            city_wide = Principal(kind="staff", id=admin_id, name="d", role="dispatcher", scope_path=str(city))
            found = await service.get_request(session, city_wide, request_id)
            await service.request_out(session, city_wide, found)
            await service.request_events(session, city_wide, request_id)

        for i in range(rounds + 10):  # the first ten warm the caches, untimed
            p = principal(i)
            calls = {
                "list": service.list_requests(session, p, RequestFilters(), None, 20),
                "status": service.list_requests(
                    session, p, RequestFilters(status="assigned" if i % 2 else "needs_dispatch"), None, 20
                ),
                "due": service.list_requests(session, p, RequestFilters(status="assigned"), None, 20, sort="due"),
                "overdue": service.list_requests(session, p, RequestFilters(sla_state="overdue"), None, 20, sort="due"),
                "read": read(),
            }
            for kind, call in calls.items():
                await timed(kind, call)
            if i == 9:
                for values in timings.values():
                    values.clear()
    await dispose_engine()
    return {k: sorted(v) for k, v in timings.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=12_000_000, help="how many requests (default 12,000,000)")
    parser.add_argument("--rounds", type=int, default=200, help="rounds of the five queries timed (default 200)")
    parser.add_argument("--skip-generate", action="store_true", help="time the kept database")
    args = parser.parse_args()
    kit.ensure_root_on_path()
    made = None
    if args.skip_generate:
        url = f"postgresql+asyncpg://postgres@{kit.HOST}:{kit.PG_PORT}/{DATABASE}"
        return _report(asyncio.run(time_queries(url, args.rounds)), args.requests, made)
    with kit.bench_services(DATABASE, REDIS_DB) as services:
        kit.log(f"partitions benchmark: {services.describe}")
        kit.migrate(kit.app_env(services))
        asyncio.run(_load_demo(services.database_url))
        t0 = time.perf_counter()
        made = asyncio.run(generate(services.dsn, args.requests))
        kit.log(f"generated in {time.perf_counter() - t0:.0f} s (not timed in the figures)")
        return _report(asyncio.run(time_queries(services.database_url, args.rounds)), args.requests, made)


async def _load_demo(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    from shared.db import dispose_engine, unit_of_work
    from shared.settings import get_settings

    get_settings.cache_clear()
    from cli.demo.city import load_demo

    async with unit_of_work() as session:
        await load_demo(session)
    await dispose_engine()


def _report(timings: dict[str, list[float]], requests: int, made: int | None) -> int:
    p95 = {k: kit.percentile(v, 95) for k, v in timings.items()}
    for kind, values in timings.items():
        kit.log(
            f"  {kind:8s} p50 {kit.percentile(values, 50):6.1f} ms  p95 {p95[kind]:6.1f} ms  max {values[-1]:6.1f} ms"
            f"  ({len(values)} timed)"
        )
    worst = max(p95.values())
    kit.log(f"target: p95 ≤ 50 ms for each: {'within' if worst <= 50 else 'OUTSIDE'} (worst {worst:.1f} ms)")
    print(
        f"requests={requests} "
        + " ".join(f"{k}_p95_ms={v:.1f}" for k, v in p95.items())
        + (f" partitions_made={made}" if made is not None else ""),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
