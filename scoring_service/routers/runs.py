"""Score runs: compute a period's scores (inline, or on the long job queue), follow progress, verify."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from scoring_service.cache import public_cache
from scoring_service.deps import RunPrincipal, SnapshotDep, StaffPrincipal, VerifyPrincipal
from services.models import ScoreRun
from services.scoring import service
from services.scoring.periods import PERIOD_RE
from services.scoring.schemas import RunCreate, RunOut, VerifyOut
from shared.deps import SessionDep
from shared.pagination import Page
from shared.params import DEFAULT_LIMIT, Cursor, Limit
from shared.views import Rows
from shared.web.errors import problem_responses

router = APIRouter(prefix="/v1/scores/runs", tags=["score runs"])
RunId = Annotated[int, Path(ge=1, le=2**63 - 1)]
# OpenAPI links of a started run: follow it, verify it.
RUN_LINKS = {
    "GetRun": {"operationId": "get_run_v1_scores_runs__run_id__get", "parameters": {"run_id": "$response.body#/id"}},
    "VerifyRun": {
        "operationId": "verify_run_v1_scores_runs__run_id__verify_post",
        "parameters": {"run_id": "$response.body#/id"},
    },
    "PublishRun": {
        "operationId": "publish_run_v1_scores_runs__run_id__publish_post",
        "parameters": {"run_id": "$response.body#/id"},
    },
}


@router.post(
    "",
    status_code=201,
    response_model=RunOut,
    responses={
        201: {"description": "Computed in this request", "links": RUN_LINKS},
        202: {
            "model": RunOut,
            "description": "Queued on the long job queue: follow it at `Location`",
            "links": RUN_LINKS,
        },
        **problem_responses(401, 403, 413, 422),
    },
)
async def start_run(
    session: SessionDep, snapshot: SnapshotDep, principal: RunPrincipal, body: RunCreate, response: Response
) -> ScoreRun:
    """Compute the scores of a period as of a time (default now) under a scheme (default the current one).

    Small periods are computed in this request (`201`, status `done`); large ones, or `background: true`,
    go to the long job queue (`202`, status `queued`): follow `GET /v1/scores/runs/{id}` for progress.
    Recomputing with the same `as_of` and scheme gives the same values.
    """
    run, spec = await service.create_run(session, principal, body)
    if run.mode == "inline":
        await service.run_inline(session, snapshot, run, spec)
    else:
        response.status_code = 202
    response.headers["Location"] = f"/v1/scores/runs/{run.id}"
    return run


@router.get("", response_model=Page[RunOut], responses=problem_responses(401, 403, 422))
async def list_runs(
    session: SessionDep,
    principal: StaffPrincipal,
    period: Annotated[str | None, Query(pattern=PERIOD_RE, max_length=7, examples=["2026-10"])] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Rows[ScoreRun]:
    """List runs, newest first, optionally of one period."""
    return await service.list_runs(session, period, cursor, limit)


@router.get("/{run_id}", response_model=RunOut, responses=problem_responses(401, 403, 404, 422))
async def get_run(session: SessionDep, principal: StaffPrincipal, run_id: RunId) -> ScoreRun:
    """A run's status and progress (phase, months aggregated, fraction done), its as_of and scheme version."""
    return await service.get_run(session, run_id)


@router.post("/{run_id}/verify", response_model=VerifyOut, responses=problem_responses(401, 403, 404, 409, 422))
async def verify_run(
    session: SessionDep, snapshot: SnapshotDep, principal: VerifyPrincipal, run_id: RunId
) -> VerifyOut:
    """Recompute a finished run from the raw data at its as_of under its scheme and compare every stored value."""
    return await service.verify_run(session, snapshot, run_id)


@router.post("/{run_id}/publish", response_model=RunOut, responses=problem_responses(401, 403, 404, 409, 422))
async def publish_run(session: SessionDep, principal: RunPrincipal, run_id: RunId) -> ScoreRun:
    """Publish a finished run (公示): `/v1/public/...` shows the period's latest published run.

    A supervisor or admin scoped to the whole city; once (`409` when already published, or not finished).
    Appeals approved or revoked after the run's as_of are corrected at once: a corrected run is queued
    and republished when it finishes (`corrects_run_id`, `changes`).
    """
    run = await service.publish_run(session, principal, run_id)
    public_cache.clear()
    return run
