"""Hot-spot alerts (热点预警): unusual surges of related requests in one community (SPEC §6)."""

from typing import Annotated

from fastapi import APIRouter, Query

from intake_api.deps import StaffPrincipal
from services.alerts import service
from services.alerts.schemas import CATEGORY_ROOT_RE, AlertOut
from services.alerts.service import AlertView
from shared.deps import SessionDep
from shared.pagination import Page
from shared.params import DEFAULT_LIMIT, Cursor, Limit
from shared.schemas import CITY_TIME_NOTE, CityDateTime
from shared.views import Rows
from shared.web.errors import problem_responses

router = APIRouter(prefix="/v1", tags=["alerts"])


Since = Annotated[
    CityDateTime | None,
    Query(
        description=f"Only alerts raised at or after this time. {CITY_TIME_NOTE}",
        examples=["2026-11-20T00:00:00+08:00"],
    ),
]
CategoryRootQuery = Annotated[
    str | None,
    Query(
        max_length=31,
        pattern=CATEGORY_ROOT_RE,
        description="Only this top-level category (`env`, `land`, …)",
        examples=["env"],
    ),
]


@router.get("/alerts", response_model=Page[AlertOut], responses=problem_responses(401, 403, 422))
async def list_alerts(
    session: SessionDep,
    principal: StaffPrincipal,
    since: Since = None,
    category_root: CategoryRootQuery = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Rows[AlertView]:
    """List the hot-spot alerts of the communities in your scope, newest first.

    An alert is raised when, in one community, the requests of one top-level category in the
    last 24 h reach 5 (3 for key-group matters, 重点人群) and are improbable (Poisson tail
    p < 0.001) against that community's daily mean over the 28 days before. Each community and
    category is alerted once per 24 h window; the `alert.raised` webhook announces new ones.
    """
    return await service.list_alerts(
        session, principal, since=since, category_root=category_root, cursor=cursor, limit=limit
    )
