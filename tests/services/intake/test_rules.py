"""Pure intake rules: duplicates, tracking numbers, phones (hypothesis where a property says more)."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.intake.duplicates import (
    RequestFacts,
    bounding_box,
    first_duplicate,
    haversine_m,
    is_duplicate,
    jaccard,
    trigrams,
)
from services.intake.phones import mask_phone, normalise_phone
from services.intake.tracking import is_well_formed, new_tracking_no, normalise_tracking_no

pytestmark = pytest.mark.pure


T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def facts(
    minutes: float = 0, lat=29.87, lon=121.55, category="env.noise", unit=None, phone=None, text="夜间施工噪声扰民"
):
    return RequestFacts(T0 + timedelta(minutes=minutes), category, lat, lon, unit, phone, text)


lats = st.floats(29.6, 30.1)
lons = st.floats(121.2, 122.0)


def test_same_category_within_50_m_and_72_h_is_a_duplicate():
    earlier = facts()
    # 0.0004° of latitude is about 44.5 m.
    assert is_duplicate(facts(60, lat=29.8704), earlier)
    assert not is_duplicate(facts(60, lat=29.8706), earlier)  # about 66.7 m
    assert not is_duplicate(facts(72 * 60 + 1, lat=29.8704), earlier)
    assert not is_duplicate(facts(60, lat=29.8704, category="env.pollution"), earlier)


def test_without_coordinates_the_same_org_unit_counts_as_the_same_place():
    earlier = facts(lat=None, lon=None, unit=7)
    assert is_duplicate(facts(10, lat=None, lon=None, unit=7), earlier)
    assert not is_duplicate(facts(10, lat=None, lon=None, unit=8), earlier)
    assert not is_duplicate(facts(10, unit=7), earlier)  # one located by coordinates, one not


def test_same_phone_near_identical_text_within_24_h_is_a_duplicate():
    text = "我家楼下的路灯已经坏了三天了晚上出行很不方便请尽快派人修理"
    earlier = facts(lat=None, lon=None, phone="h1", text=text, category="city")
    assert is_duplicate(facts(60, lat=None, lon=None, phone="h1", text=text + "！", category="utilities"), earlier)
    assert not is_duplicate(facts(60, lat=None, lon=None, phone="h2", text=text, category="utilities"), earlier)
    assert not is_duplicate(facts(24 * 60 + 1, lat=None, lon=None, phone="h1", text=text), earlier)
    assert not is_duplicate(facts(60, lat=None, lon=None, phone="h1", text="完全不同的另一件事情"), earlier)


def test_the_earliest_matching_request_is_chosen():
    new = facts(100)
    candidates = [(3, facts(50)), (1, facts(10)), (2, facts(20, category="other"))]
    assert first_duplicate(new, candidates) == 1


@settings(max_examples=300, deadline=None)
@given(lats, lons, lats, lons)
def test_distance_is_symmetric_and_the_prefilter_box_holds_every_near_point(lat1, lon1, lat2, lon2):
    d = haversine_m(lat1, lon1, lat2, lon2)
    assert d == pytest.approx(haversine_m(lat2, lon2, lat1, lon1))
    if d <= 50:
        south, north, west, east = bounding_box(lat1, lon1, 50)
        assert south <= lat2 <= north and west <= lon2 <= east


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=0, max_size=60), st.text(min_size=0, max_size=60))
def test_jaccard_is_symmetric_bounded_and_one_for_equal_text(a, b):
    ta, tb = trigrams(a), trigrams(b)
    assert jaccard(ta, tb) == jaccard(tb, ta)
    assert 0.0 <= jaccard(ta, tb) <= 1.0
    assert jaccard(ta, ta) == 1.0


@settings(max_examples=300, deadline=None)
@given(st.floats(0, 5000), lats, lons, st.floats(-0.01, 0.01), st.floats(-0.01, 0.01))
def test_a_request_is_never_a_duplicate_of_a_later_one_and_the_rule_matches_its_definition(
    minutes, lat, lon, dlat, dlon
):
    earlier = facts(0, lat=lat, lon=lon)
    new = facts(minutes, lat=lat + dlat, lon=lon + dlon)
    expected = minutes <= 72 * 60 and haversine_m(lat, lon, lat + dlat, lon + dlon) <= 50
    assert is_duplicate(new, earlier) == expected
    assert not is_duplicate(earlier, new) or new.received_at == earlier.received_at


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)))
def test_tracking_numbers_are_well_formed_and_one_wrong_digit_is_caught(when):
    number = new_tracking_no(when)
    assert is_well_formed(number) and number.startswith(when.strftime("%y%m%d"))
    for position in range(len(number)):
        wrong = number[:position] + str((int(number[position]) + 1) % 10) + number[position + 1 :]
        assert not is_well_formed(wrong)
    grouped = f"{number[:5]} {number[5:10]}-{number[10:]}"
    assert normalise_tracking_no(grouped) == number


@pytest.mark.parametrize(
    ("raw", "normal", "masked"),
    [
        ("13800001234", "13800001234", "138****1234"),
        ("+86 138-0000-1234", "13800001234", "138****1234"),
        ("0574 8765 4321", "0574-87654321", "057*****4321"),
        ("+85291234567", "+85291234567", "+85*****4567"),
    ],
)
def test_phones_are_normalised_and_masked(raw, normal, masked):
    assert normalise_phone(raw) == normal
    assert mask_phone(normal) == masked


@pytest.mark.parametrize("raw", ["12345", "2380000123", "abc", "+0123456789", "1380000123"])
def test_unreadable_phones_are_refused(raw):
    with pytest.raises(ValueError):
        normalise_phone(raw)
