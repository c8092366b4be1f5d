"""Who may act on a request: its handler (or, for a queued request, a member of the lead team or
department) and dispatchers in scope; some actions are a dispatcher's alone (`workflow.DISPATCHER_ONLY`)."""

from dataclasses import dataclass

from services.handling.workflow import DISPATCHER_ONLY
from services.intake.errors import RequestNotFound
from services.models import Request
from shared.auth import Principal, StaffRole
from shared.errors import Forbidden

DISPATCHER: StaffRole = "dispatcher"
HANDLER: StaffRole = "handler"


@dataclass(frozen=True, slots=True)
class Standing:
    """How the caller stands to a request."""

    is_dispatcher: bool  # a dispatcher whose subtree holds the request
    is_handler: bool  # its handler, or a lead-unit member who may claim it from the queue


def needs_membership_check(principal: Principal, request: Request) -> bool:
    """Whether `standing` needs to know if the caller is a member of the request's lead unit (a queue claim)."""
    return principal.role == HANDLER and request.handler_id is None


def standing(principal: Principal, request: Request, *, is_lead_member: bool) -> Standing:
    return Standing(
        is_dispatcher=principal.role == DISPATCHER and principal.covers(request.unit_path),
        is_handler=principal.role == HANDLER
        and (request.handler_id == principal.id or (request.handler_id is None and is_lead_member)),
    )


def check_may_act(principal: Principal, request: Request, action: str, caller: Standing) -> None:
    """Refuse the action unless the caller may take it; a request the caller cannot even see is a 404."""
    if not caller.is_dispatcher and not caller.is_handler:
        if principal.covers(request.unit_path) or request.handler_id == principal.id:
            raise Forbidden("Only the request's handler or a dispatcher in scope may do this")
        raise RequestNotFound(f"No request {request.id}")
    if action in DISPATCHER_ONLY and not caller.is_dispatcher:
        raise Forbidden(f"Only a dispatcher may {action}")


def claims_from_queue(principal: Principal, request: Request) -> bool:
    """Accepting a queued request makes the accepting handler its handler."""
    return request.handler_id is None and principal.role == HANDLER


# ---- joint handling (会办) -----------------------------------------------------------------------


def check_may_work_co_task(
    principal: Principal, request: Request, action: str, *, is_member: bool, can_see: bool
) -> None:
    """A co-unit's members accept and reply on their unit's task; a dispatcher in scope waives it.
    Whoever cannot see the request gets a 404, as if it were absent."""
    is_dispatcher = principal.role == DISPATCHER and principal.covers(request.unit_path)
    if not (can_see or is_member or is_dispatcher):
        raise RequestNotFound(f"No request {request.id}")
    if action == "waive":
        if not is_dispatcher:
            raise Forbidden("Only a dispatcher may waive a co-unit's reply")
    elif not is_member:
        raise Forbidden("Only members of the co-unit may accept or reply on its task")


# ---- duplicates ----------------------------------------------------------------------------------


def may_review_duplicates(principal: Principal, *, in_scope: list[Request], handled: list[Request]) -> bool:
    """Linking and unlinking duplicates: a dispatcher whose subtree holds the requests `in_scope`, or the
    handler of the requests `handled` (unlinking: the original's; linking: both)."""
    if principal.role == DISPATCHER:
        return all(principal.covers(r.unit_path) for r in in_scope)
    return principal.role == HANDLER and all(r.handler_id == principal.id for r in handled)
