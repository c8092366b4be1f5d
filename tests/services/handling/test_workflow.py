"""The handler workflow's transition table, tested directly: every action from every status either
leads where the table says or is an illegal transition (HTTP 409)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.handling.errors import IllegalTransition
from services.handling.workflow import DISPATCHER_ONLY, TRANSITIONS, next_status
from services.models.intake import OPEN_STATUSES, STATUSES

pytestmark = pytest.mark.pure

ACTIONS = sorted(TRANSITIONS)


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
