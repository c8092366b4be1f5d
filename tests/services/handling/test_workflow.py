"""The handler workflow's transition tables, tested directly: every action from every status either
leads where the table says or is an illegal transition (HTTP 409).

`GRID` and `CO_TASK_GRID` are the workflow written out by hand, cell by cell (not derived from
`TRANSITIONS`): a change to a table that the grid does not also make fails here, so the grid must be
edited, visibly, with the table."""

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.handling.errors import IllegalTransition
from services.handling.workflow import (
    CO_TASK_TRANSITIONS,
    DISPATCHER_ONLY,
    LINK_TRANSITIONS,
    TRANSITIONS,
    next_co_task_status,
    next_status,
)
from services.models.handling import CO_TASK_STATUSES
from services.models.intake import OPEN_STATUSES, STATUSES
from shared.errors import Conflict

pytestmark = pytest.mark.pure

ACTIONS = sorted(TRANSITIONS)

# One row per action, one cell per status: "-" refused (409), "=" allowed and the status kept (or left
# to the service), else the status the action leads to.
GRID = """
                   received   assigned       accepted       resolved  closed  needs_dispatch  suspended  duplicate  return_review
accept             -          accepted       -              -         -       -               -          -          -
return             -          received       received       -         -       -               -          -          -
return_for_review  -          return_review  return_review  -         -       -               -          -          -
review_return      -          -              -              -         -       -               -          -          =
note               =          =              =              =         -       =               =          -          =
suspend            -          -              suspended      -         -       -               -          -          -
resume             -          -              -              -         -       -               accepted   -          -
resolve            -          -              resolved       -         -       -               -          -          -
reassign           assigned   assigned       assigned       -         -       assigned        assigned   -          assigned
escalate           =          =              =              -         -       =               =          -          =
joint              -          =              =              -         -       -               =          -          -
co_task            -          =              =              -         -       -               =          -          =
waive_co_task      -          =              =              -         -       -               =          -          =
classify           -          -              -              -         -       received        -          -          -
link_duplicate     duplicate  duplicate      duplicate      -         -       duplicate       duplicate  -          duplicate
unlink_duplicate   -          -              -              -         -       -               -          received   -
"""

# A co-unit's task: the same notation over the co-task statuses.
CO_TASK_GRID = """
         assigned  accepted  replied  waived  cancelled
accept   accepted  -         -        -       -
reply    replied   replied   -        -       -
waive    waived    waived    -        -       -
"""


def _cells(grid: str) -> tuple[tuple[str, ...], dict[tuple[str, str], str | None]]:
    """The grid's columns, and (action, status) -> the status after it, or None where it is refused."""
    header, *rows = grid.strip().splitlines()
    columns = tuple(header.split())
    cells: dict[tuple[str, str], str | None] = {}
    for row in rows:
        action, *targets = row.split()
        assert len(targets) == len(columns), action
        for status, target in zip(columns, targets, strict=True):
            cells[action, status] = None if target == "-" else status if target == "=" else target
    return columns, cells


COLUMNS, EXPECTED = _cells(GRID)
EXPECTED_ACTIONS = sorted({action for action, _ in EXPECTED})
CO_TASK_COLUMNS, CO_TASK_EXPECTED = _cells(CO_TASK_GRID)
CO_TASK_ACTIONS = sorted({action for action, _ in CO_TASK_EXPECTED})


def test_the_hand_written_grids_cover_every_action_and_status() -> None:
    assert sorted(COLUMNS) == sorted(STATUSES), "a status was added or removed"
    assert sorted({*TRANSITIONS, *LINK_TRANSITIONS}) == EXPECTED_ACTIONS, "an action was added or removed"
    assert sorted(CO_TASK_COLUMNS) == sorted(CO_TASK_STATUSES)
    assert sorted(CO_TASK_TRANSITIONS) == CO_TASK_ACTIONS


def _refused(call: Callable[[str, str], str], action: str, status: str) -> IllegalTransition:
    with pytest.raises(IllegalTransition) as refused:
        call(action, status)
    assert refused.value.status == 409
    assert isinstance(refused.value, Conflict)
    return refused.value


def _follows(call: Callable[[str, str], str], expected: str | None, action: str, status: str) -> None:
    """`call(action, status)` leads to `expected`, or is refused with a 409 where that is None."""
    if expected is None:
        _refused(call, action, status)
    else:
        assert call(action, status) == expected


@settings(max_examples=400, deadline=None)
@given(action=st.sampled_from(EXPECTED_ACTIONS), status=st.sampled_from(COLUMNS))
def test_every_action_from_every_status_is_what_the_hand_written_grid_says(action: str, status: str) -> None:
    _follows(next_status, EXPECTED[action, status], action, status)


@settings(max_examples=100, deadline=None)
@given(action=st.sampled_from(CO_TASK_ACTIONS), status=st.sampled_from(CO_TASK_COLUMNS))
def test_every_co_task_action_from_every_status_is_what_the_grid_says(action: str, status: str) -> None:
    _follows(next_co_task_status, CO_TASK_EXPECTED[action, status], action, status)


@settings(max_examples=200, deadline=None)
@given(start=st.sampled_from(COLUMNS), actions=st.lists(st.sampled_from(EXPECTED_ACTIONS), max_size=12))
def test_a_sequence_of_actions_moves_only_as_the_grid_allows(start: str, actions: list[str]) -> None:
    """A refused action leaves the request where it was; an allowed one moves it as the grid says."""
    status = start
    for action in actions:
        expected = EXPECTED[action, status]
        try:
            after = next_status(action, status)
        except IllegalTransition:
            assert expected is None, (action, status)
            continue
        assert after == expected, (action, status)
        status = after
    assert status in STATUSES


@settings(max_examples=100, deadline=None)
@given(action=st.sampled_from(EXPECTED_ACTIONS), status=st.text(max_size=20).filter(lambda s: s not in STATUSES))
def test_a_status_the_workflow_does_not_know_is_refused(action: str, status: str) -> None:
    _refused(next_status, action, status)


def test_no_action_closes_a_request_and_only_a_link_marks_it_a_duplicate() -> None:
    # Closing is the citizen's feedback or the SLA sweep.
    targets = {(a, to) for a, moves in {**TRANSITIONS, **LINK_TRANSITIONS}.items() for to in moves.values()}
    assert not {a for a, to in targets if to == "closed"}
    assert {a for a, to in targets if to == "duplicate"} == {"link_duplicate"}


def test_only_resolve_leads_to_resolved() -> None:
    assert [a for a, moves in TRANSITIONS.items() if "resolved" in moves.values()] == ["resolve"]


def test_the_dispatcher_only_actions() -> None:
    assert {"reassign", "joint", "classify", "review_return", "waive_co_task"} == DISPATCHER_ONLY


@settings(max_examples=200, deadline=None)
@given(action=st.sampled_from(ACTIONS), status=st.sampled_from(STATUSES))
def test_every_action_from_every_status_follows_the_table_or_is_a_409(action: str, status: str) -> None:
    allowed = TRANSITIONS[action]
    if status in allowed:
        target = allowed[status]
        assert next_status(action, status) == (status if target is None else target)
    else:
        with pytest.raises(IllegalTransition) as refused:
            next_status(action, status)
        assert refused.value.status == 409
        assert action in refused.value.detail and status in refused.value.detail


def test_the_table_speaks_only_of_known_statuses() -> None:
    for action, moves in TRANSITIONS.items():
        assert set(moves) <= set(STATUSES), action
        assert {to for to in moves.values() if to is not None} <= set(STATUSES), action


def test_dispatcher_only_actions_are_actions_of_the_table() -> None:
    assert set(TRANSITIONS) >= DISPATCHER_ONLY


def test_illegal_transition_is_a_409_conflict() -> None:
    assert IllegalTransition.status == 409
    assert IllegalTransition.title == "Illegal transition"


def test_accept_from_assigned_gives_accepted() -> None:
    assert next_status("accept", "assigned") == "accepted"


def test_resolve_needs_accepted() -> None:
    assert next_status("resolve", "accepted") == "resolved"
    for status in set(STATUSES) - {"accepted"}:
        with pytest.raises(IllegalTransition):
            next_status("resolve", status)


def test_return_sends_the_request_back_to_received() -> None:
    assert next_status("return", "assigned") == "received"
    assert next_status("return", "accepted") == "received"


def test_suspend_and_resume_go_back_and_forth() -> None:
    assert next_status("suspend", "accepted") == "suspended"
    assert next_status("resume", "suspended") == "accepted"
    with pytest.raises(IllegalTransition):
        next_status("resume", "accepted")


def test_note_keeps_the_status() -> None:
    for status in TRANSITIONS["note"]:
        assert next_status("note", status) == status


def test_classify_only_a_request_waiting_for_dispatch() -> None:
    assert next_status("classify", "needs_dispatch") == "received"
    with pytest.raises(IllegalTransition):
        next_status("classify", "assigned")


def test_reassign_from_any_open_status_gives_assigned() -> None:
    for status in OPEN_STATUSES:
        assert next_status("reassign", status) == "assigned"


@pytest.mark.parametrize("status", ["closed", "duplicate"])
def test_a_closed_or_duplicate_request_allows_no_action(status: str) -> None:
    for action in ACTIONS:
        with pytest.raises(IllegalTransition):
            next_status(action, status)
