"""Who is calling, and the sessions the scoring routers use (the same staff JWTs as the intake API)."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.service import resolve_principal
from services.scoring.repository import read_snapshot
from shared.auth import Principal
from shared.deps import principal_dependency, require_roles

current_principal = principal_dependency(resolve_principal)
STAFF_ROLES = ("admin", "dispatcher", "handler", "clerk", "supervisor", "auditor")

StaffPrincipal = Annotated[Principal, Depends(require_roles(current_principal, *STAFF_ROLES))]
AdminPrincipal = Annotated[Principal, Depends(require_roles(current_principal, "admin"))]
# Starting and verifying runs: the evaluation office (supervisors), auditors for verification, admins.
RunPrincipal = Annotated[Principal, Depends(require_roles(current_principal, "admin", "supervisor"))]
VerifyPrincipal = Annotated[Principal, Depends(require_roles(current_principal, "admin", "supervisor", "auditor"))]
DeciderPrincipal = Annotated[Principal, Depends(require_roles(current_principal, "admin", "supervisor"))]


async def snapshot_session() -> AsyncIterator[AsyncSession]:
    async with read_snapshot() as session:
        yield session


SnapshotDep = Annotated[AsyncSession, Depends(snapshot_session)]
