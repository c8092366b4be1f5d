"""Scores of org units, departments and cadres (SPEC §7), from stored runs, in the caller's scope."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response

from scoring_service.csv_export import cadres_csv, units_csv
from scoring_service.deps import StaffPrincipal
from scoring_service.params import PeriodQuery, RunIdQuery
from services.scoring import service
from services.scoring.compute import UNIT_LEVELS
from services.scoring.schemas import CadreScore, UnitLevel, UnitScore, UnitScoreDetail
from shared.deps import SessionDep
from shared.pagination import Page
from shared.params import DEFAULT_LIMIT, Cursor, Limit
from shared.web.errors import problem_responses

router = APIRouter(prefix="/v1/scores", tags=["scores"])

CodePath = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z_-]+$", examples=["330203001"])]
LevelQuery = Annotated[UnitLevel | None, Query(description="Only units of this level")]
ParentQuery = Annotated[
    str | None,
    Query(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z_-]+$", description="Only the children of this unit"),
]
CadreKind = Literal["handler", "leader"]
KindQuery = Annotated[CadreKind | None, Query(description="handler (incl. grid workers) or leader; default both")]
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"example": "period,as_of,scheme_version,...\r\n"}}, "description": "CSV"}
}


def _levels(level: str | None) -> tuple[str, ...]:
    return (level,) if level else UNIT_LEVELS


def _csv(body: str, filename: str) -> Response:
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/units", response_model=Page[UnitScore], responses=problem_responses(401, 403, 404, 422))
async def list_unit_scores(
    session: SessionDep,
    principal: StaffPrincipal,
    period: PeriodQuery,
    level: LevelQuery = None,
    parent: ParentQuery = None,
    run_id: RunIdQuery = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[UnitScore]:
    """Scores of the org units in your scope (city, districts, streets, communities, grids) for a period.

    Each item has the three rates and the other rates (raw, n, Wilson interval, shrunk, case-mix adjusted),
    the three-rate score, the satisfaction index, the rank in its level, and the run it comes from
    (`run_id`, `as_of`, `scheme_version`). `404` when the period has no finished run yet.
    """
    return await service.unit_scores(
        session,
        principal,
        period=period,
        run_id=run_id,
        levels=_levels(level),
        parent_code=parent,
        cursor=cursor,
        limit=limit,
    )


@router.get("/units.csv", response_class=Response, responses={**CSV_RESPONSE, **problem_responses(401, 403, 404, 422)})
async def export_unit_scores(
    session: SessionDep,
    principal: StaffPrincipal,
    period: PeriodQuery,
    level: LevelQuery = None,
    run_id: RunIdQuery = None,
) -> Response:
    """The unit scores in your scope as CSV (one row per unit, every rate with n, interval, shrunk, adjusted)."""
    run, items = await service.unit_score_rows(session, principal, period=period, run_id=run_id, levels=_levels(level))
    return _csv(units_csv(items), f"scores-units-{run.period}-run{run.id}.csv")


@router.get("/units/{code}", response_model=UnitScoreDetail, responses=problem_responses(401, 403, 404, 422))
async def get_unit_score(
    session: SessionDep, principal: StaffPrincipal, code: CodePath, period: PeriodQuery, run_id: RunIdQuery = None
) -> UnitScoreDetail:
    """One unit's scores with the breakdown that explains each number.

    The breakdown lists the counts' sources (child units, and the grid team, departments or dispatch centre
    attached to the unit), the level's prior per rate, the case mix with the city's per-category baselines,
    the requests removed by approved appeals, the scheme (weights, points) and the formulas.
    """
    return await service.unit_score(session, principal, code=code, period=period, run_id=run_id, department=False)


@router.get("/departments", response_model=Page[UnitScore], responses=problem_responses(401, 403, 404, 422))
async def list_department_scores(
    session: SessionDep,
    principal: StaffPrincipal,
    period: PeriodQuery,
    run_id: RunIdQuery = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[UnitScore]:
    """Scores of the departments (职能部门) scoped inside your subtree, as handling units."""
    return await service.unit_scores(
        session,
        principal,
        period=period,
        run_id=run_id,
        levels=("department",),
        parent_code=None,
        cursor=cursor,
        limit=limit,
    )


@router.get("/departments/{code}", response_model=UnitScoreDetail, responses=problem_responses(401, 403, 404, 422))
async def get_department_score(
    session: SessionDep, principal: StaffPrincipal, code: CodePath, period: PeriodQuery, run_id: RunIdQuery = None
) -> UnitScoreDetail:
    """One department's scores with their breakdown."""
    return await service.unit_score(session, principal, code=code, period=period, run_id=run_id, department=True)


@router.get("/cadres", response_model=Page[CadreScore], responses=problem_responses(401, 403, 404, 422))
async def list_cadre_scores(
    session: SessionDep,
    principal: StaffPrincipal,
    period: PeriodQuery,
    kind: KindQuery = None,
    run_id: RunIdQuery = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[CadreScore]:
    """Cadre evaluation (群众工作绩效) of the staff in your scope: handlers and grid workers, and leaders.

    Handlers: quantity (dispatched, handled, visits against the grid-worker quota), quality (their rates),
    process (visit compliance, response and on-time rates) and result (their three-rate score).
    Leaders: contact compliance and coverage over their links, and their linked units' three-rate score.
    `cadre_score` = process × w_process + result × w_result, from the run's scheme.
    """
    kinds = (kind,) if kind else ("handler", "leader")
    return await service.cadre_scores(
        session, principal, period=period, run_id=run_id, kinds=kinds, cursor=cursor, limit=limit
    )


@router.get("/cadres.csv", response_class=Response, responses={**CSV_RESPONSE, **problem_responses(401, 403, 404, 422)})
async def export_cadre_scores(
    session: SessionDep,
    principal: StaffPrincipal,
    period: PeriodQuery,
    kind: KindQuery = None,
    run_id: RunIdQuery = None,
) -> Response:
    """The cadre scores in your scope as CSV."""
    kinds = (kind,) if kind else ("handler", "leader")
    items = await service.cadre_score_rows(session, principal, period=period, run_id=run_id, kinds=kinds)
    return _csv(cadres_csv(items), f"scores-cadres-{period}.csv")


@router.get("/cadres/{kind}/{staff_id}", response_model=CadreScore, responses=problem_responses(401, 403, 404, 422))
async def get_cadre_score(
    session: SessionDep,
    principal: StaffPrincipal,
    kind: Annotated[CadreKind, Path()],
    staff_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    period: PeriodQuery,
    run_id: RunIdQuery = None,
) -> CadreScore:
    """One cadre's evaluation."""
    return await service.cadre_score(session, principal, staff_id=staff_id, kind=kind, period=period, run_id=run_id)
