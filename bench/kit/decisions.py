"""What the database and Redis say about routing: decisions, jobs in progress, the grid map.

A routing decision is an `assignments` row (assigned or needs_dispatch) with its
`routed`/`needs_dispatch` event; exactly once means one row (routing_no 1) and one event.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.kit.platform import log

IN_PROGRESS = "arq:in-progress:route:*"


async def grid_geometries(dsn: str) -> list[dict[str, Any]]:
    """The GeoJSON geometry of every grid."""
    import asyncpg

    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        rows = await conn.fetch("SELECT geometry::text AS g FROM org_units WHERE level = 'grid'")
        return [json.loads(r["g"]) for r in rows]
    finally:
        await conn.close()


async def in_progress(client: Any) -> list[str]:
    """The route jobs arq holds in progress (`route:<id>:<n>`), from Redis client `client`."""
    keys = []
    async for key in client.scan_iter(match=IN_PROGRESS, count=1000):
        keys.append(key.decode().removeprefix("arq:in-progress:"))
        if len(keys) > 10_000:
            break
    return keys


async def wait_for_job_in_progress(client: Any) -> int:
    """Wait up to 3 s for a route job in progress; the milliseconds waited."""
    waited = 0
    for waited in range(300):  # noqa: B007
        if await in_progress(client):
            break
        await asyncio.sleep(0.01)
    return waited * 10


async def queued_jobs(redis_url: str) -> set[str]:
    import redis.asyncio as aioredis

    from shared.queue import DEFAULT_QUEUE

    client = aioredis.Redis.from_url(redis_url)
    try:
        return {m.decode() for m in await client.zrange(DEFAULT_QUEUE, 0, -1)}
    finally:
        await client.aclose()


async def wait_routed(dsn: str, ids: list[int], max_s: float, workers_alive: Callable[[], bool]) -> float:
    """Poll until all `ids` have a decision; the time.time() when they did, or nan."""
    import asyncpg

    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        deadline = time.time() + max_s
        while time.time() < deadline:
            n = await conn.fetchval(
                "SELECT count(DISTINCT request_id) FROM assignments WHERE request_id = ANY($1::bigint[])", ids
            )
            if n >= len(ids):
                return time.time()
            if not workers_alive():
                log("the worker is not running any more")
                return math.nan
            await asyncio.sleep(0.25)
        return math.nan
    finally:
        await conn.close()


async def decisions(dsn: str, ids: list[int], prefix: str) -> dict[str, Any]:
    """Per request of `ids`: its status, decision rows and events, when first decided; the requests
    of this run (`prefix-...`) committed without their 201 read; outbox entries still open."""
    import asyncpg

    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        rows = await conn.fetch(
            """
            SELECT r.id, r.status, r.routing_no,
                   (SELECT count(*) FROM assignments a WHERE a.request_id = r.id) AS n_rows,
                   (SELECT count(*) FROM assignments a WHERE a.request_id = r.id AND a.routing_no = 1) AS n_first,
                   (SELECT count(*) FROM request_events e
                     WHERE e.request_id = r.id AND e.kind IN ('routed', 'needs_dispatch')) AS n_events,
                   (SELECT extract(epoch FROM min(a.created_at))::float8 FROM assignments a
                     WHERE a.request_id = r.id) AS decided
            FROM requests r WHERE r.id = ANY($1::bigint[])
            """,
            ids,
        )
        unanswered = await conn.fetch(
            """
            SELECT r.id, EXISTS (SELECT 1 FROM assignments a WHERE a.request_id = r.id) AS routed
            FROM requests r WHERE r.external_id LIKE $1 AND NOT (r.id = ANY($2::bigint[]))
            """,
            prefix + "-%",
            ids,
        )
        open_outbox = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE processed_at IS NULL AND request_id = ANY($1::bigint[])", ids
        )
    finally:
        await conn.close()
    return {"rows": {r["id"]: dict(r) for r in rows}, "unanswered": unanswered, "open_outbox": open_outbox}


@dataclass
class Tally:
    """The accepted requests by their decisions (`decisions()["rows"]`)."""

    once: list[int] = field(default_factory=list)  # exactly one decision
    none: list[int] = field(default_factory=list)  # none
    many: list[int] = field(default_factory=list)  # more than one
    odd: list[int] = field(default_factory=list)  # a row without its event or the reverse
    missing: list[int] = field(default_factory=list)  # not in the database at all

    @property
    def lost(self) -> int:
        return len(self.none) + len(self.missing)


def tally(ids: list[int], rows: dict[int, dict[str, Any]]) -> Tally:
    t = Tally()
    for i in ids:
        row = rows.get(i)
        if row is None:
            t.missing.append(i)
        elif row["n_rows"] == 1 and row["n_first"] == 1 and row["n_events"] == 1:
            t.once.append(i)
        elif row["n_rows"] == 0 and row["n_events"] == 0:
            t.none.append(i)
        elif row["n_rows"] > 1 or row["n_events"] > 1:
            t.many.append(i)
        else:
            t.odd.append(i)
    return t
