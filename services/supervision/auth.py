"""Who may do what in supervision. A request the caller cannot see (outside its subtree and not its own
to handle) is a 404 as if absent; a visible one with the wrong role is a 403.

* The inbox: supervisors, dispatchers and admins, over their subtree.
* 督办 (supervision orders) and 催办 (reminders): supervisors whose subtree holds the request.
* Extensions: the request's handler applies; a dispatcher or supervisor whose subtree holds it decides;
  staff who can see the request read its applications.
"""

from services.intake.errors import RequestNotFound
from services.models import Request
from shared.auth import Principal, StaffRole
from shared.errors import Forbidden

INBOX_READERS: frozenset[StaffRole] = frozenset({"supervisor", "dispatcher", "admin"})
SUPERVISORS: frozenset[StaffRole] = frozenset({"supervisor"})
EXTENSION_DECIDERS: frozenset[StaffRole] = frozenset({"dispatcher", "supervisor"})
HANDLER: StaffRole = "handler"


def check_inbox(principal: Principal) -> None:
    if not principal.is_staff or principal.role not in INBOX_READERS:
        raise Forbidden("The supervision inbox is for supervisors, dispatchers and admins")


def sees(principal: Principal, request: Request) -> bool:
    """Staff see their subtree and what they handle."""
    return principal.is_staff and (principal.covers(request.unit_path) or request.handler_id == principal.id)


def check_visible(principal: Principal, request: Request | None, request_id: int) -> Request:
    if not principal.is_staff:
        raise Forbidden("Supervision and extensions are for staff: log in at /v1/auth/token")
    if request is None or not sees(principal, request):
        raise RequestNotFound(f"No request {request_id}")
    return request


def check_may_supervise(principal: Principal, request: Request) -> None:
    if principal.role not in SUPERVISORS or not principal.covers(request.unit_path):
        raise Forbidden("Only a supervisor whose scope holds the request issues supervision orders and reminders")


def check_may_apply(principal: Principal, request: Request) -> None:
    if principal.role != HANDLER or request.handler_id != principal.id:
        raise Forbidden("Only the request's handler applies for a deadline extension")


def check_may_decide(principal: Principal, request: Request) -> None:
    if principal.role not in EXTENSION_DECIDERS or not principal.covers(request.unit_path):
        raise Forbidden("Only a dispatcher or supervisor whose scope holds the request decides extensions")
