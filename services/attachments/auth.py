"""Who may attach files, and to what.

* An integration (a citizen's app, a hotline system, an Open311 front end) attaches to the requests it
  submitted, with the `requests:create` right, and only to the request itself.
* Staff who may see the request (its scope, its handler, a co-unit's members) and whose role files or
  works requests (clerks, handlers, dispatchers, admins) attach to the request itself.
* Files on a trail entry (a note, a co-unit's reply, the resolution) are attached by whoever wrote that
  entry: the workflow already decided they might write it, and their evidence belongs to it.

Reading follows reading the request (`services.intake.auth.can_see`), which the caller passes in.
"""

from services.attachments.errors import AttachmentRequestNotFound, MayNotAttach
from services.models import Request, RequestEvent
from shared.auth import Principal, StaffRole, actor_of
from shared.errors import InvalidInput, field_error

UPLOADERS: frozenset[StaffRole] = frozenset({"admin", "dispatcher", "clerk", "handler"})
# The trail entry each target names (`event_seq`).
TARGET_EVENTS = {"note": "note", "reply": "co_task_replied", "resolution": "resolved"}


def check_may_attach(principal: Principal, request: Request, target: str, *, can_see: bool) -> None:
    """Refuse unless the caller may attach files to `request` (a request it cannot see is a 404)."""
    if principal.kind == "integration":
        if request.created_by != actor_of(principal):
            raise AttachmentRequestNotFound(f"No request {request.id}")
        if "requests:create" not in principal.rights:
            raise MayNotAttach("This API key may not submit files (it needs requests:create)")
        if target != "request":
            raise MayNotAttach("An integration attaches files to the request itself (target=request)")
        return
    if not can_see:
        raise AttachmentRequestNotFound(f"No request {request.id}")
    if principal.role not in UPLOADERS:
        raise MayNotAttach(f"The {principal.role} role may not attach files")


def check_trail_target(principal: Principal, target: str, event_seq: int | None, event: RequestEvent | None) -> None:
    """A trail target names an entry of the right kind, written by the caller; the request itself names none."""
    if target == "request":
        if event_seq is not None:
            raise InvalidInput(
                "event_seq is only for target note, reply or resolution",
                errors=[field_error(["event_seq"], "leave it out for target=request")],
            )
        return
    if event_seq is None:
        raise InvalidInput(
            f"event_seq is required for target={target}",
            errors=[field_error(["event_seq"], f"the seq of the {target} in the request's trail")],
        )
    if event is None or event.kind != TARGET_EVENTS[target]:
        raise InvalidInput(
            f"The request's trail has no {target} with seq {event_seq}",
            errors=[field_error(["event_seq"], f"not a {target} of this request ({TARGET_EVENTS[target]} entry)")],
        )
    if event.actor != actor_of(principal):
        raise MayNotAttach(f"Only whoever wrote that {target} may attach files to it")


def may_be_public(target: str, event: RequestEvent | None) -> bool:
    """Whether a file may get a public copy: on the request itself, or on a public trail entry."""
    return target == "request" or (event is not None and event.public)
