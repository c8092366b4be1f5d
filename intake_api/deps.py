"""Who is calling, for the intake API's routers."""

from typing import Annotated

from fastapi import Depends

from services.identity.service import resolve_principal
from shared.auth import Principal
from shared.deps import principal_dependency, require_roles

current_principal = principal_dependency(resolve_principal)
CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
AdminPrincipal = Annotated[Principal, Depends(require_roles(current_principal, "admin"))]
StaffPrincipal = Annotated[
    Principal,
    Depends(require_roles(current_principal, "admin", "dispatcher", "handler", "clerk", "supervisor", "auditor")),
]
