"""Who may search, look up a caller, and export."""

from services.intake.auth import DISPATCHER, READERS
from shared.auth import Principal, StaffRole
from shared.errors import Forbidden

# Leaders (supervisors), analysts (auditors), dispatch centres and admins take exports of their scope.
EXPORTERS: frozenset[StaffRole] = frozenset({"admin", "dispatcher", "supervisor", "auditor"})
# Only dispatchers may see every citizen's name and phone (services.intake.auth.may_reveal_pii), so only
# they may export them; the assigned handler reveals one request at a time.
PII_EXPORTERS: frozenset[StaffRole] = frozenset({DISPATCHER})


def check_can_search(principal: Principal) -> None:
    """Staff in a reading role (their scope); integrations read their own requests through `GET /v1/requests`."""
    if not principal.is_staff or principal.role not in READERS:
        raise Forbidden("Search is for staff in a reading role")


def check_can_export(principal: Principal, *, pii: bool = False) -> None:
    if not principal.is_staff or principal.role not in EXPORTERS:
        raise Forbidden(f"Exports are for the roles: {', '.join(sorted(EXPORTERS))}")
    if pii and principal.role not in PII_EXPORTERS:
        raise Forbidden("Only dispatchers may export citizens' names and phones")
