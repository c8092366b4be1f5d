"""Versioned scoring schemes (SPEC §7.5): weights, points, thresholds and quotas, admin only."""

from typing import Annotated

from fastapi import APIRouter, Path, Response

from scoring_service.deps import AdminPrincipal
from services.scoring import service
from services.scoring.schemas import SchemeCreate, SchemeOut
from services.scoring.service import SchemeView
from shared.deps import SessionDep
from shared.pagination import Page
from shared.params import DEFAULT_LIMIT, Cursor, Limit
from shared.views import Rows
from shared.web.errors import problem_responses

router = APIRouter(prefix="/v1/admin/scoring-schemes", tags=["scoring schemes"])


@router.post("", status_code=201, response_model=SchemeOut, responses=problem_responses(401, 403, 409, 413, 422))
async def create_scheme(
    session: SessionDep, principal: AdminPrincipal, body: SchemeCreate, response: Response
) -> SchemeView:
    """Create the next scheme version (schemes are never edited: a change is a new version).

    Omitted parts of `document` take the SPEC defaults; the stored document spells every value out.
    New runs use the newest version unless they name another; stored scores keep the version they used.
    """
    created = await service.create_scheme(session, principal, body)
    response.headers["Location"] = f"/v1/admin/scoring-schemes/{created.version}"
    return created


@router.get("", response_model=Page[SchemeOut], responses=problem_responses(401, 403, 422))
async def list_schemes(
    session: SessionDep, principal: AdminPrincipal, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
) -> Rows[SchemeView]:
    """List the scheme versions, oldest first (version 1 holds the SPEC defaults)."""
    return await service.list_schemes(session, cursor, limit)


@router.get("/{version}", response_model=SchemeOut, responses=problem_responses(401, 403, 404, 422))
async def get_scheme(
    session: SessionDep, principal: AdminPrincipal, version: Annotated[int, Path(ge=1, le=1_000_000)]
) -> SchemeView:
    """Read one scheme version."""
    return await service.get_scheme(session, version)
