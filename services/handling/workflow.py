"""The handler workflow as a table: which action is allowed from which status, and where it leads."""

from services.handling.errors import IllegalTransition

# action -> {from status: to status}; `None` as the target keeps the status.
TRANSITIONS: dict[str, dict[str, str | None]] = {
    "accept": {"assigned": "accepted"},
    "return": {"assigned": "received", "accepted": "received"},
    "note": {s: None for s in ("received", "assigned", "accepted", "suspended", "needs_dispatch", "resolved")},
    "suspend": {"accepted": "suspended"},
    "resume": {"suspended": "accepted"},
    "resolve": {"accepted": "resolved"},
    "reassign": {s: "assigned" for s in ("received", "assigned", "accepted", "suspended", "needs_dispatch")},
    "escalate": {s: None for s in ("received", "assigned", "accepted", "suspended", "needs_dispatch")},
    "joint": {s: None for s in ("assigned", "accepted", "suspended")},
    "classify": {"needs_dispatch": "received"},
}
DISPATCHER_ONLY = frozenset({"reassign", "joint", "classify"})


def next_status(action: str, status: str) -> str:
    """The status after `action`, or IllegalTransition (409) when `status` does not allow it."""
    allowed = TRANSITIONS[action]
    if status not in allowed:
        raise IllegalTransition(f"Cannot {action} a request that is {status}")
    target = allowed[status]
    return status if target is None else target
