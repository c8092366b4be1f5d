"""The floor of SPEC §10: a minimal Starlette + asyncpg app, one POST doing one INSERT.

`bench/intake.py` serves it with one uvicorn process
(`python -m uvicorn bench.kit.floor_app:app ...`) next to the intake API and loads both
with the same bodies. It parses the JSON body, inserts it into `bench_floor` and answers `201`
with the new id, nothing else: what any intake endpoint must at least do.

Settings from the environment: `FLOOR_DSN` (plain asyncpg DSN, else DATABASE_URL with the
`+asyncpg` removed) and `FLOOR_POOL_SIZE` (20: the intake API's pool_size + max_overflow).

Importing it has no side effects beyond building the app object.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

TABLE_DDL = """
CREATE TABLE IF NOT EXISTS bench_floor (
    id bigserial PRIMARY KEY,
    body jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
)
"""
INSERT = "INSERT INTO bench_floor (body) VALUES ($1) RETURNING id"


def _dsn() -> str:
    dsn = os.environ.get("FLOOR_DSN") or os.environ.get("DATABASE_URL", "")
    return dsn.replace("postgresql+asyncpg://", "postgresql://", 1)


def _build_app() -> Any:
    import asyncpg
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        size = int(os.environ.get("FLOOR_POOL_SIZE", "20"))
        pool = await asyncpg.create_pool(_dsn(), min_size=size, max_size=size)
        async with pool.acquire() as conn:
            await conn.execute(TABLE_DDL)
        state["pool"] = pool
        try:
            yield
        finally:
            await pool.close()

    async def create(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"title": "Malformed JSON"}, status_code=400)
        if not isinstance(body, dict):
            return JSONResponse({"title": "Expected an object"}, status_code=422)
        new_id = await state["pool"].fetchval(INSERT, json.dumps(body, ensure_ascii=False))
        return JSONResponse({"id": new_id}, status_code=201, headers={"Location": f"/floor/{new_id}"})

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[Route("/floor", create, methods=["POST"]), Route("/healthz", healthz, methods=["GET"])],
        lifespan=lifespan,
    )


app = _build_app()
