"""Admin: staff accounts and integrations' API keys."""

from typing import Annotated

from fastapi import APIRouter, Path, status

from intake_api.deps import AdminPrincipal
from services.identity import service
from services.identity.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut, StaffCreate, StaffOut, StaffUpdate
from services.identity.service import IssuedKey, ScopedStaff
from services.models import ApiKey
from shared.auth import StaffRole
from shared.deps import IfMatch, SessionDep
from shared.pagination import Page
from shared.params import DEFAULT_LIMIT, Cursor, Limit
from shared.views import Rows
from shared.web.errors import problem_responses

router = APIRouter(prefix="/v1/admin", tags=["admin: access"])
Id = Annotated[int, Path(ge=1, le=2**62)]
READ = problem_responses(401, 403, 404, 422)
WRITE = problem_responses(401, 403, 404, 409, 422, 428)


@router.get("/staff", response_model=Page[StaffOut], responses=READ)
async def list_staff(
    session: SessionDep,
    principal: AdminPrincipal,
    role: StaffRole | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Rows[ScopedStaff]:
    """List staff accounts scoped inside your subtree."""
    return await service.list_staff(session, principal, role=role, cursor=cursor, limit=limit)


@router.post("/staff", status_code=status.HTTP_201_CREATED, response_model=StaffOut, responses=WRITE)
async def create_staff(session: SessionDep, principal: AdminPrincipal, body: StaffCreate) -> ScopedStaff:
    """Create a staff account with a role and an org-unit scope inside yours."""
    return await service.create_staff(session, principal, body)


@router.get("/staff/{staff_id}", response_model=StaffOut, responses=READ)
async def get_staff(session: SessionDep, principal: AdminPrincipal, staff_id: Id) -> ScopedStaff:
    """Read one staff account."""
    return await service.get_staff(session, principal, staff_id)


@router.patch("/staff/{staff_id}", response_model=StaffOut, responses=WRITE)
async def update_staff(
    session: SessionDep, principal: AdminPrincipal, staff_id: Id, body: StaffUpdate, if_match: IfMatch
) -> ScopedStaff:
    """Change a staff account's role, scope, password or activity (takes effect on the next call)."""
    return await service.update_staff(session, principal, staff_id, body, if_match)


@router.get("/api-keys", response_model=list[ApiKeyOut], responses=READ)
async def list_api_keys(session: SessionDep, principal: AdminPrincipal) -> list[ApiKey]:
    """List integrations' API keys (never the keys themselves)."""
    return await service.list_api_keys(session, principal)


@router.post("/api-keys", status_code=status.HTTP_201_CREATED, response_model=ApiKeyCreated, responses=WRITE)
async def create_api_key(session: SessionDep, principal: AdminPrincipal, body: ApiKeyCreate) -> IssuedKey:
    """Issue an API key for an integration; the key is in this answer only."""
    return await service.create_api_key(session, principal, body)


@router.post("/api-keys/{key_id}/revoke", response_model=ApiKeyOut, responses=WRITE)
async def revoke_api_key(session: SessionDep, principal: AdminPrincipal, key_id: Id) -> ApiKey:
    """Revoke an API key at once."""
    return await service.revoke_api_key(session, principal, key_id)
