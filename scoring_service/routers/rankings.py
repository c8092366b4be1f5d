"""Rankings (排名) on shrunk values, so a unit with 2 ratings cannot top one with 2,000."""

from typing import Annotated

from fastapi import APIRouter, Query

from scoring_service.deps import StaffPrincipal
from scoring_service.params import PeriodQuery, RunIdQuery
from services.scoring import service
from services.scoring.schemas import RankingLevel, RankingMetric, RankingOut
from shared.deps import SessionDep
from shared.web.errors import problem_responses

router = APIRouter(prefix="/v1", tags=["rankings"])


@router.get("/rankings", response_model=RankingOut, responses=problem_responses(401, 403, 404, 422))
async def get_rankings(
    session: SessionDep,
    principal: StaffPrincipal,
    period: PeriodQuery,
    level: Annotated[RankingLevel, Query(description="Which subjects to rank")] = "street",
    metric: Annotated[RankingMetric, Query(description="Scores, or a rate (its shrunk value)")] = "three_rate_score",
    run_id: RunIdQuery = None,
    limit: Annotated[int, Query(ge=1, le=5000, description="How many to show")] = 100,
) -> RankingOut:
    """Rank a level city-wide on a metric and show the ranks of the subjects in your scope.

    Scores rank high to low; reopen rate, return rate and no-evaluation share rank low to high. Rates rank
    on their shrunk values, over subjects with n > 0; ties share a rank (1, 2, 2, 4).
    """
    return await service.rankings(
        session, principal, period=period, run_id=run_id, level=level, metric=metric, limit=limit
    )
