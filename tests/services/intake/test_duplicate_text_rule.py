"""The no-coordinates duplicate rule (same category, same org unit, 72 h) also needs similar text
(character-trigram Jaccard ≥ `same_unit_similarity`, 0.5 by default): a property test of the rule."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.config.schemas import DuplicateRules
from services.intake.duplicates import RequestFacts, first_duplicate, is_duplicate, jaccard, trigrams

pytestmark = pytest.mark.pure

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
CHINESE = st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x4E40), min_size=0, max_size=30)


def at_unit(text: str, minutes: float = 0, unit: int = 7, category: str = "env.noise") -> RequestFacts:
    return RequestFacts(T0 + timedelta(minutes=minutes), category, None, None, unit, None, text)


def test_two_different_noise_complaints_in_one_grid_are_not_merged() -> None:
    earlier = at_unit("工地夜间施工噪声扰民，彻夜不停")
    assert not is_duplicate(at_unit("广场舞音响声音太大影响休息", 30), earlier)
    assert is_duplicate(at_unit("工地夜间施工噪声扰民，彻夜不停！", 30), earlier)


@settings(max_examples=300, deadline=None)
@given(CHINESE, CHINESE, st.floats(0, 80 * 60), st.booleans(), st.booleans())
def test_without_coordinates_the_rule_is_same_unit_category_window_and_similar_text(
    a: str, b: str, minutes: float, same_unit: bool, same_category: bool
) -> None:
    earlier = at_unit(a)
    new = at_unit(b, minutes, 7 if same_unit else 8, "env.noise" if same_category else "env.dust")
    similar = jaccard(trigrams(a), trigrams(b)) >= 0.5
    assert is_duplicate(new, earlier) == (same_unit and same_category and minutes <= 72 * 60 and similar)


@settings(max_examples=200, deadline=None)
@given(CHINESE, CHINESE, st.floats(0, 1))
def test_the_threshold_is_the_setting_and_zero_restores_the_place_only_rule(a: str, b: str, threshold: float) -> None:
    rules = DuplicateRules(same_unit_similarity=threshold)
    expected = jaccard(trigrams(a), trigrams(b)) >= threshold
    assert is_duplicate(at_unit(b, 10), at_unit(a), rules) == expected
    assert is_duplicate(at_unit(b, 10), at_unit(a), DuplicateRules(same_unit_similarity=0))


@settings(max_examples=100, deadline=None)
@given(st.lists(CHINESE, min_size=1, max_size=8), CHINESE)
def test_first_duplicate_is_the_earliest_similar_candidate(texts: list[str], new_text: str) -> None:
    candidates = [(n + 1, at_unit(t, n)) for n, t in enumerate(texts)]
    new = at_unit(new_text, 100)
    similar = [rid for rid, facts in candidates if jaccard(trigrams(new_text), trigrams(facts.description)) >= 0.5]
    assert first_duplicate(new, candidates) == (similar[0] if similar else None)
