"""Admin: leaders' links to units and departments, with contact quotas (scored in cadre evaluation)."""

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from intake_api.deps import AdminPrincipal
from services.routing import leaders
from services.routing.leaders import LeaderLinkCreate, LeaderLinkOut, LinkView
from shared.deps import SessionDep
from shared.web.errors import problem_responses

router = APIRouter(prefix="/v1/admin/leader-links", tags=["admin: organisation"])


@router.get("", response_model=list[LeaderLinkOut], responses=problem_responses(401, 403))
async def list_leader_links(session: SessionDep, principal: AdminPrincipal) -> list[LinkView]:
    """Leaders' links in your scope."""
    return await leaders.list_links(session, principal)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=LeaderLinkOut,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create_leader_link(session: SessionDep, principal: AdminPrincipal, body: LeaderLinkCreate) -> LinkView:
    """Link a leader to a unit or a department with contact quotas per month, quarter and year."""
    return await leaders.create_link(session, principal, body)


@router.delete("/{link_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(401, 403, 404, 422))
async def delete_leader_link(
    session: SessionDep, principal: AdminPrincipal, link_id: Annotated[int, Path(ge=1, le=2**62)]
) -> Response:
    """Remove a leader's link."""
    await leaders.delete_link(session, principal, link_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
