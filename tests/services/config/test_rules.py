"""The rule settings document (services/config/schemas.py): office hours valid exactly when ordered and
non-overlapping, limits on every number, merge patches, and stored documents that no longer fit."""

from datetime import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from services.config.schemas import RuleSettings, changes, merge
from services.config.service import parse
from services.sla.calendar import OfficeHours
from services.sla.service import office_hours_of

pytestmark = pytest.mark.pure  # no database, no Redis

minutes = st.integers(min_value=0, max_value=23 * 60 + 59)


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


periods = st.lists(st.tuples(minutes, minutes), min_size=1, max_size=8)


def _valid(pairs: list[tuple[int, int]]) -> bool:
    return all(start < end for start, end in pairs) and all(
        pairs[i][0] >= pairs[i - 1][1] for i in range(1, len(pairs))
    )


@settings(max_examples=300, deadline=None)
@given(periods)
def test_office_hours_are_valid_exactly_when_each_period_is_ordered_and_none_overlaps(pairs):
    document = {"sla": {"office_hours": [[_clock(a), _clock(b)] for a, b in pairs]}}
    if _valid(pairs):
        rules = RuleSettings.model_validate(document)
        hours = office_hours_of(rules.sla)
        assert hours.minutes_per_day == sum(b - a for a, b in pairs)
        assert hours.periods == tuple((time(a // 60, a % 60), time(b // 60, b % 60)) for a, b in pairs)
    else:
        with pytest.raises(ValidationError) as raised:
            RuleSettings.model_validate(document)
        assert {e["loc"] for e in raised.value.errors()} == {("sla", "office_hours")}


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=6))
def test_a_time_must_be_hh_mm(raw):
    document = {"sla": {"office_hours": [[raw, "23:59"]]}}
    well_formed = len(raw) == 5 and raw[2] == ":" and raw[:2].isascii() and raw[3:].isascii()
    if well_formed and raw[:2].isdigit() and raw[3:].isdigit() and int(raw[:2]) < 24 and int(raw[3:]) < 60:
        if raw != "23:59":
            assert RuleSettings.model_validate(document).sla.office_hours[0][0] == raw
    else:
        with pytest.raises(ValidationError):
            RuleSettings.model_validate(document)


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_the_warning_share_lies_strictly_between_0_and_1(share):
    if 0 < share < 1:
        assert RuleSettings.model_validate({"sla": {"warning_share": share}}).sla.warning_share == share
    else:
        with pytest.raises(ValidationError):
            RuleSettings.model_validate({"sla": {"warning_share": share}})


def test_the_defaults_are_the_spec_numbers():
    rules = RuleSettings()
    assert office_hours_of(rules.sla) == OfficeHours()
    assert rules.sla.warning_share == 0.8
    assert (rules.duplicates.nearby_metres, rules.duplicates.nearby_window_hours) == (50, 72)
    assert (rules.duplicates.same_phone_window_hours, rules.duplicates.same_phone_similarity) == (24, 0.9)
    assert rules.duplicates.same_unit_similarity == 0.5
    assert (rules.hotspots.min_count, rules.hotspots.key_group_min_count, rules.hotspots.p_value) == (5, 3, 0.001)
    assert (rules.hotspots.baseline_days, rules.hotspots.window_hours) == (28, 24)
    assert rules.feedback.no_evaluation_close_days == 7
    assert rules.handling.returns_before_dispatch == 1
    assert rules.handling.return_review_required is False
    assert rules.handling.escalation_delay_hours == 24


def test_a_merge_patch_changes_only_the_fields_given():
    current = RuleSettings.model_validate({"hotspots": {"min_count": 9}})
    patch = RuleSettings.model_validate({"hotspots": {"p_value": 0.01}, "sla": {"warning_share": 0.7}})
    merged = RuleSettings.model_validate(merge(current, patch))
    assert merged.hotspots.min_count == 9 and merged.hotspots.p_value == 0.01
    assert merged.sla.warning_share == 0.7
    assert merged.duplicates == current.duplicates
    old, new = changes(current.model_dump(mode="json"), merged.model_dump(mode="json"))
    assert old == {"hotspots": {"p_value": 0.001}, "sla": {"warning_share": 0.8}}
    assert new == {"hotspots": {"p_value": 0.01}, "sla": {"warning_share": 0.7}}


def test_a_stored_document_that_no_longer_fits_falls_back_group_by_group():
    stored = {
        "sla": {"warning_share": 0.7, "retired_setting": 3},  # a field this code no longer knows: ignored
        "hotspots": {"min_count": -4},  # a limit tightened since: the group's defaults apply
        "retired_group": {"x": 1},
    }
    rules = parse(stored)
    assert rules.sla.warning_share == 0.7
    assert rules.hotspots.min_count == 5
    assert parse({}) == RuleSettings()
