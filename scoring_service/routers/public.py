"""Public disclosure (公示), no login: units' three rates, satisfaction index and rank; leaders' contacts
by post and unit. Counts and rates only: no names of people, no free text. Only published runs (the
period's latest published one, with its scheme version, as_of, publication time and, for a corrected run,
what the correction changed). Cached for a minute."""

from typing import Annotated

from fastapi import APIRouter, Query, Response

from scoring_service.cache import PUBLIC_TTL_SECONDS, public_cache
from scoring_service.params import PeriodQuery
from services.scoring import service
from services.scoring.compute import UNIT_LEVELS
from services.scoring.schemas import PublicLeaderContactsPage, PublicUnitsPage, UnitLevel
from shared.deps import SessionDep
from shared.params import DEFAULT_LIMIT, Cursor, Limit
from shared.web.errors import problem_responses

router = APIRouter(prefix="/v1/public", tags=["public disclosure (公示)"])
CACHE_CONTROL = f"public, max-age={PUBLIC_TTL_SECONDS}"


@router.get("/scores", response_model=PublicUnitsPage, responses=problem_responses(404, 422))
async def public_scores(
    session: SessionDep,
    response: Response,
    period: PeriodQuery,
    level: Annotated[UnitLevel | None, Query(description="Only units of this level")] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> PublicUnitsPage:
    """The published scores of a period: each unit's three rates, three-rate score, satisfaction index and rank.

    From the period's latest published run (`404` until a supervisor publishes one).
    """
    key = ("scores", period, level, cursor, limit)
    page = public_cache.get(key)
    if page is None:
        levels = (level,) if level else UNIT_LEVELS
        page = await service.public_units(session, period=period, levels=levels, cursor=cursor, limit=limit)
        public_cache.put(key, page)
    response.headers["Cache-Control"] = CACHE_CONTROL
    return page


@router.get("/leader-contacts", response_model=PublicLeaderContactsPage, responses=problem_responses(404, 422))
async def public_leader_contacts(
    session: SessionDep, response: Response, period: PeriodQuery
) -> PublicLeaderContactsPage:
    """Leaders' grassroots contacts (逐级联系) in a period by post (职务) and unit, against their quotas."""
    key = ("leader-contacts", period)
    page = public_cache.get(key)
    if page is None:
        page = await service.public_leader_contacts(session, period=period)
        public_cache.put(key, page)
    response.headers["Cache-Control"] = CACHE_CONTROL
    return page
