"""Pure routing rules: grid lookup, matrix choice, member choice."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, shape

from cli.demo.geography import generate_units
from services.routing.grid_index import GridIndex, GridRecord
from services.routing.locate import NamedUnit, match_address
from services.routing.matrix import Rule, choose_rule
from services.routing.members import Candidate, choose_member
from tests.factories import square

pytestmark = pytest.mark.pure


DEMO_GRIDS = [u for u in generate_units() if u.level == "grid"]
DEMO_INDEX = GridIndex([GridRecord(i, g.code, g.geometry) for i, g in enumerate(DEMO_GRIDS) if g.geometry])
DEMO_SHAPES = [(g.code, shape(g.geometry)) for g in DEMO_GRIDS if g.geometry]


@settings(max_examples=150, deadline=None)
@given(st.floats(121.2, 122.0), st.floats(29.6, 30.1))
def test_grid_lookup_agrees_with_brute_force(lon, lat):
    point = Point(lon, lat)
    covering = sorted(code for code, polygon in DEMO_SHAPES if polygon.intersects(point))
    hit = DEMO_INDEX.locate(lon, lat)
    assert (hit[1] if hit else None) == (covering[0] if covering else None)


def test_point_on_a_shared_edge_goes_to_the_lowest_code():
    index = GridIndex([GridRecord(2, "B", square(121.51, 29.8)), GridRecord(1, "A", square(121.50, 29.8))])
    assert index.locate(121.51, 29.805) == (1, "A")
    assert index.locate(121.515, 29.805) == (2, "B")
    assert index.locate(121.60, 29.805) is None


def test_city_centre_is_found_in_the_demo_map():
    hit = DEMO_INDEX.locate(121.55, 29.87)
    assert hit is not None and hit[1].startswith(("330203", "330205", "330212"))


def _rule(rule_id, prefix, path, kind="grid_team", lead=None):
    return Rule(rule_id, prefix, path, kind, lead, ())


def test_more_specific_category_beats_more_specific_unit():
    rules = [
        _rule(1, "*", "/c/"),
        _rule(2, "env", "/c/d/s/"),  # specific unit, broader category
        _rule(3, "env.noise", "/c/", "department", 9),  # broader unit, specific category
    ]
    assert choose_rule(rules, "env.noise", "/c/d/s/g/").id == 3
    assert choose_rule(rules, "env.pollution", "/c/d/s/g/").id == 2
    assert choose_rule(rules, "env.pollution", "/c/d/other/").id == 1
    assert choose_rule(rules, "envx", "/c/d/s/").id == 1
    assert choose_rule([_rule(1, "env", "/c/d/")], "housing", "/c/d/") is None


def test_rule_of_another_branch_never_applies():
    assert choose_rule([_rule(1, "*", "/c/d1/")], "env", "/c/d2/s/") is None


def test_least_loaded_on_duty_member_is_chosen():
    candidates = [Candidate(1, True, 3), Candidate(2, True, 1), Candidate(3, False, 0)]
    assert choose_member(candidates, None, frozenset()) == 2


def test_ties_go_round_robin():
    candidates = [Candidate(5, True, 0), Candidate(7, True, 0), Candidate(9, True, 0)]
    assert choose_member(candidates, None, frozenset()) == 5
    assert choose_member(candidates, 5, frozenset()) == 7
    assert choose_member(candidates, 7, frozenset()) == 9
    assert choose_member(candidates, 9, frozenset()) == 5


def test_returned_handler_is_excluded_and_nobody_on_duty_means_the_team_queue():
    assert choose_member([Candidate(1, True, 0), Candidate(2, True, 5)], None, frozenset({1})) == 2
    assert choose_member([Candidate(1, False, 0)], None, frozenset()) is None


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 50), st.booleans(), st.integers(0, 9)), min_size=1, max_size=12),
    st.one_of(st.none(), st.integers(1, 50)),
)
def test_chosen_member_is_on_duty_and_least_loaded(rows, last):
    candidates = [Candidate(i, duty, load) for i, duty, load in {r[0]: r for r in rows}.values()]
    chosen = choose_member(candidates, last, frozenset())
    on_duty = [c for c in candidates if c.on_duty]
    if not on_duty:
        assert chosen is None
    else:
        picked = next(c for c in candidates if c.staff_id == chosen)
        assert picked.on_duty and picked.open_assignments == min(c.open_assignments for c in on_duty)


def test_round_robin_spreads_equal_work_evenly():
    candidates = [Candidate(i, True, 0) for i in (3, 4, 8)]
    last: int | None = None
    counts = {3: 0, 4: 0, 8: 0}
    for _ in range(30):
        last = choose_member(candidates, last, frozenset())
        assert last is not None
        counts[last] += 1
    assert counts == {3: 10, 4: 10, 8: 10}
    random.shuffle(candidates)
    assert choose_member(candidates, 4, frozenset()) == 8


def test_address_finds_the_deepest_named_unit():
    units = [
        NamedUnit(1, "海曙区", "/c/d/", "district"),
        NamedUnit(2, "南门街道", "/c/d/s/", "street"),
        NamedUnit(3, "柳汀社区", "/c/d/s/m/", "community"),
    ]
    assert match_address("宁波市海曙区南门街道柳汀社区8幢", units).id == 3
    assert match_address("海曙区某路", units).id == 1
    assert match_address("江北区", units) is None
