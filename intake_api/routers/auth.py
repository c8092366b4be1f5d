"""Staff login (OAuth2 password flow) and "who am I"."""

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm

from intake_api.deps import CurrentPrincipal
from services.identity import service
from services.identity.schemas import MeOut, TokenOut
from shared.deps import SessionDep
from shared.web import problem_responses

router = APIRouter(prefix="/v1", tags=["auth"])


@router.post("/auth/token", response_model=TokenOut, responses=problem_responses(401, 422))
async def login(session: SessionDep, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> TokenOut:
    """Log a staff member in; answers a short-lived bearer token (JWT)."""
    staff = await service.authenticate(session, form.username, form.password)
    token, expires_in = service.issue_token(staff)
    return TokenOut(access_token=token, expires_in=expires_in)


@router.get("/me", response_model=MeOut, responses=problem_responses(401))
async def me(principal: CurrentPrincipal) -> MeOut:
    """The calling staff member or integration, with role, scope and rights."""
    return MeOut(
        kind=principal.kind,
        id=principal.id,
        name=principal.name,
        role=principal.role,
        scope_code=principal.scope_code,
        rights=sorted(principal.rights),
        channels=sorted(principal.channels),
    )
