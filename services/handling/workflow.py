"""The handler workflow as tables: which action is allowed from which status, and where it leads."""

from services.handling.errors import IllegalTransition

# Request statuses a unit is working in (a co-unit may then accept and reply, a lead may add co-units).
_WORKING = ("assigned", "accepted", "suspended")
_OPEN = ("received", "assigned", "accepted", "suspended", "needs_dispatch", "return_review")

# action -> {from status: to status}; `None` as the target keeps the status (or the service decides it).
TRANSITIONS: dict[str, dict[str, str | None]] = {
    "accept": {"assigned": "accepted"},
    # A return that takes effect at once (re-routed, or the second one to a dispatcher: the service decides).
    "return": {"assigned": "received", "accepted": "received"},
    # A return that waits for a dispatcher's review (退单审核).
    "return_for_review": {"assigned": "return_review", "accepted": "return_review"},
    # The review: confirm applies the return (re-route), reject gives the request back to the unit as it was.
    "review_return": {"return_review": None},
    "note": {
        s: None
        for s in ("received", "assigned", "accepted", "suspended", "needs_dispatch", "resolved", "return_review")
    },
    "suspend": {"accepted": "suspended"},
    "resume": {"suspended": "accepted"},
    "resolve": {"accepted": "resolved"},
    "reassign": {s: "assigned" for s in _OPEN},
    "escalate": {s: None for s in _OPEN},
    "joint": {s: None for s in _WORKING},
    # A co-unit's part (accept, reply) and a dispatcher's waiver, while the lead works on the request.
    "co_task": {s: None for s in (*_WORKING, "return_review")},
    "waive_co_task": {s: None for s in (*_WORKING, "return_review")},
    "classify": {"needs_dispatch": "received"},
    # Staff mark an open request as a duplicate of another by hand.
    "link_duplicate": {s: "duplicate" for s in _OPEN},
}
DISPATCHER_ONLY = frozenset({"reassign", "joint", "classify", "review_return", "waive_co_task"})

# Actions on a request's duplicate link rather than on its handling: a duplicate allows no handling
# action (TRANSITIONS), but staff may unlink it, and it is then routed as a new request.
LINK_TRANSITIONS: dict[str, dict[str, str | None]] = {
    "unlink_duplicate": {"duplicate": "received"},
}

# A co-unit's task (co_tasks.status): action -> {from: to}.
CO_TASK_TRANSITIONS: dict[str, dict[str, str]] = {
    "accept": {"assigned": "accepted"},
    "reply": {"assigned": "replied", "accepted": "replied"},
    "waive": {"assigned": "waived", "accepted": "waived"},
}


def next_status(action: str, status: str) -> str:
    """The status after `action`, or IllegalTransition (409) when `status` does not allow it."""
    allowed = TRANSITIONS[action] if action in TRANSITIONS else LINK_TRANSITIONS[action]
    if status not in allowed:
        raise IllegalTransition(f"Cannot {action} a request that is {status}")
    target = allowed[status]
    return status if target is None else target


def next_co_task_status(action: str, status: str) -> str:
    """A co-task's status after `action`, or IllegalTransition (409)."""
    allowed = CO_TASK_TRANSITIONS[action]
    if status not in allowed:
        raise IllegalTransition(f"Cannot {action} a co-unit task that is {status}")
    return allowed[status]
