"""Who is calling, for the intake API's routers."""

from typing import Annotated

from fastapi import Depends

from services.identity import auth
from services.identity.service import resolve_principal
from shared.auth import Principal
from shared.deps import principal_dependency, require_roles

current_principal = principal_dependency(resolve_principal)
CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
# The role sets are declared once, in `services/identity/auth.py` (per-request rules: each domain's `auth.py`).
AdminPrincipal = Annotated[Principal, Depends(require_roles(current_principal, *sorted(auth.ADMINS)))]
StaffPrincipal = Annotated[Principal, Depends(require_roles(current_principal, *sorted(auth.STAFF)))]
