"""Who may do what with requests at intake: create, read, reveal PII, log visits, record assessments."""

from services.intake.errors import ChannelNotAllowed
from services.models import Request
from shared.auth import Principal, StaffRole, actor_of
from shared.errors import Forbidden

CREATORS: frozenset[StaffRole] = frozenset({"admin", "dispatcher", "clerk", "handler"})
READERS: frozenset[StaffRole] = frozenset({"admin", "dispatcher", "clerk", "handler", "supervisor", "auditor"})
VISITORS: frozenset[StaffRole] = frozenset({"handler", "dispatcher", "supervisor", "admin"})
ASSESSORS: frozenset[StaffRole] = frozenset({"admin", "supervisor"})
# Dispatchers see a request's citizen even when anonymous; they and its handler may reveal name and phone.
DISPATCHER: StaffRole = "dispatcher"


def check_can_create(principal: Principal, channel: str) -> None:
    """An integration with `requests:create` on that channel, or staff in a creating role."""
    if principal.kind == "integration":
        if "requests:create" not in principal.rights:
            raise Forbidden("This API key may not create requests")
        if channel not in principal.channels:
            raise ChannelNotAllowed(f"This API key may not submit requests on the {channel!r} channel")
    elif principal.role not in CREATORS:
        raise Forbidden(f"The {principal.role} role may not create requests")


def check_can_list(principal: Principal) -> None:
    """An integration with `requests:read` (its own requests), or staff in a reading role (their scope)."""
    if principal.kind == "integration":
        if "requests:read" not in principal.rights:
            raise Forbidden("This API key may not read requests")
    elif principal.role not in READERS:
        raise Forbidden(f"The {principal.role} role may not read requests")


def can_see(principal: Principal, request: Request, *, co_unit_member: bool = False) -> bool:
    """Integrations see what they submitted; reading staff see their subtree, what they handle, and the
    joint requests their team or department works on as a co-unit (`co_unit_member`, see `may_be_co_unit`)."""
    if principal.kind == "integration":
        return "requests:read" in principal.rights and request.created_by == actor_of(principal)
    if principal.role not in READERS:
        return False
    return principal.covers(request.unit_path) or request.handler_id == principal.id or co_unit_member


def may_be_co_unit(principal: Principal) -> bool:
    """Whether co-unit membership could let this caller see a request it does not see otherwise."""
    return principal.is_staff and principal.role in READERS


def may_reveal_pii(principal: Principal, request: Request) -> bool:
    """The assigned handler and dispatchers see names and phones; for anonymous requests only dispatchers."""
    if not principal.is_staff:
        return False
    if principal.role == DISPATCHER:
        return True
    return not request.anonymous and request.handler_id == principal.id


def sees_anonymous_citizen(principal: Principal) -> bool:
    """Whether an anonymous request's citizen fields are shown at all (masked unless revealed)."""
    return principal.role == DISPATCHER


def check_can_log_visits(principal: Principal) -> None:
    if not principal.is_staff or principal.role not in VISITORS:
        raise Forbidden("Only staff (handlers, dispatchers, supervisors, admins) log visits")


def check_can_assess(principal: Principal) -> None:
    if not principal.is_staff or principal.role not in ASSESSORS:
        raise Forbidden("Only supervisors and admins record assessments")
