"""Who is calling, and the sessions the scoring routers use (the same staff JWTs as the intake API)."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.service import resolve_principal
from services.scoring import auth
from services.scoring.repository import read_snapshot
from shared.auth import Principal
from shared.deps import principal_dependency, require_roles

current_principal = principal_dependency(resolve_principal)
# The role sets are declared once, in `services/scoring/auth.py`.
StaffPrincipal = Annotated[Principal, Depends(require_roles(current_principal, *sorted(auth.READERS)))]
AdminPrincipal = Annotated[Principal, Depends(require_roles(current_principal, *sorted(auth.ADMINS)))]
RunPrincipal = Annotated[Principal, Depends(require_roles(current_principal, *sorted(auth.RUNNERS)))]
VerifyPrincipal = Annotated[Principal, Depends(require_roles(current_principal, *sorted(auth.VERIFIERS)))]
DeciderPrincipal = Annotated[Principal, Depends(require_roles(current_principal, *sorted(auth.DECIDERS)))]


async def snapshot_session() -> AsyncIterator[AsyncSession]:
    async with read_snapshot() as session:
        yield session


SnapshotDep = Annotated[AsyncSession, Depends(snapshot_session)]
