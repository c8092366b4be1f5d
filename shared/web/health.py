"""Operations endpoints: liveness, readiness (with warnings an operator should act on), metrics."""

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from shared.db import get_engine
from shared.queue import get_queue

WarningCheck = Callable[[], Awaitable[list[str]]]


def add_readiness_warning(app: FastAPI, check: WarningCheck) -> None:
    """A check whose findings `/readyz` reports as warnings (ready, but an operator should act)."""
    app.state.readiness_warnings = [*getattr(app.state, "readiness_warnings", []), check]


def health_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Readiness: PostgreSQL and Redis answer",
        responses={503: {"description": "A dependency is down"}},
    )
    async def readyz(request: Request) -> JSONResponse:
        checks: dict[str, str] = {}
        for name, check in (("database", _check_database), ("redis", _check_redis)):
            try:
                await check()
                checks[name] = "ok"
            except Exception as exc:  # noqa: BLE001 - any failure means not ready
                checks[name] = f"error: {type(exc).__name__}"
        ready = all(v == "ok" for v in checks.values())
        body: dict[str, Any] = {"status": "ready" if ready else "not_ready", "checks": checks}
        if ready:
            warnings: list[str] = []
            for warn in getattr(request.app.state, "readiness_warnings", []):
                warnings += await warn()
            if warnings:
                body["warnings"] = warnings
        return JSONResponse(body, status_code=200 if ready else 503)

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


async def _check_database() -> None:
    async with get_engine().connect() as conn:
        await conn.execute(text("SELECT 1"))


async def _check_redis() -> None:
    pool = await get_queue()
    await pool.ping()
