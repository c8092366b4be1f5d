"""The search rules by themselves: reading a query, ranking, coarsening for open data; and the database's
normalisation agreeing with Python's."""

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from services.search.exports import CELL_DEGREES, coarsen, spreadsheet_safe
from services.search.repository import DAY_BLOCKS, day_keys
from services.search.text import STEP_GROWTH, QueryProblem, day_steps, normalise, parse_query, rank, terms_of

pure = pytest.mark.pure
CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)


@pure
def test_a_chinese_query_is_words_split_on_spaces_and_punctuation_only() -> None:
    query = parse_query("幸福小区，３号楼 噪音扰民")
    assert query.terms == ("幸福小区", "3号楼", "噪音扰民")


@pure
def test_a_query_of_single_characters_is_refused_but_one_may_stand_beside_a_longer_word() -> None:
    for short in ("水", "水 电", "A", "，。", ""):
        with pytest.raises(QueryProblem):
            parse_query(short)
    assert parse_query("水 漏水").terms == ("水", "漏水")


@pure
def test_full_width_and_upper_case_read_as_their_plain_forms() -> None:
    assert terms_of("ＡＢＣ小区　Ｂ座") == ["abc小区", "b座"]
    assert normalise("３号楼") == "3号楼"


@pure
def test_the_description_outranks_the_address_which_outranks_the_notes() -> None:
    query = parse_query("漏水")
    in_description = rank(query, "楼顶漏水多日", "幸福小区", None)
    in_address = rank(query, "物业不作为", "漏水巷3号", None)
    in_notes = rank(query, "物业不作为", "幸福小区", "现场查看漏水")
    assert in_description.score > in_address.score > in_notes.score
    assert in_description.matched == ("description",)
    assert in_notes.matched == ("notes",)


@pure
def test_the_whole_phrase_and_a_focused_description_rank_higher() -> None:
    query = parse_query("施工 噪音")
    together = rank(query, "工地夜间施工噪音很大", None, None)
    apart = rank(query, "夜间噪音很大，附近有施工", None, None)
    assert together.score > apart.score
    short = rank(parse_query("噪音"), "噪音扰民", None, None)
    long = rank(parse_query("噪音"), "小区门口每天晚上有人跳广场舞音响很大噪音扰民希望管一管", None, None)
    assert short.score > long.score


@pure
@settings(max_examples=200)
@given(st.floats(min_value=-90, max_value=90), st.floats(min_value=-180, max_value=180))
def test_coarsening_keeps_nothing_finer_than_the_cell(lat: float, lon: float) -> None:
    for value in (lat, lon):
        centre = coarsen(value)
        assert abs(centre - value) <= CELL_DEGREES / 2 + 1e-6
        assert coarsen(centre) == centre  # the centre is its own cell's centre
        assert round(centre * 1000) == centre * 1000 or abs(round(centre * 1000, 6) - centre * 1000) < 1e-6


@pure
@settings(max_examples=200)
@given(st.integers(min_value=-9000, max_value=8999), st.floats(min_value=0, max_value=0.9999))
def test_every_point_of_a_cell_is_published_as_the_same_point(cell: int, offset: float) -> None:
    """Two points in one cell cannot be told apart in the open data: only the cell leaks."""
    corner = cell * CELL_DEGREES
    assert coarsen(corner + offset * CELL_DEGREES) == coarsen(corner + 0.5 * CELL_DEGREES)


@pure
def test_spreadsheet_formulas_are_defused() -> None:
    assert spreadsheet_safe("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert spreadsheet_safe("噪音") == "噪音"


# Read-only queries: the one session serves every example.
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.one_of(CJK, st.sampled_from("ＡＢａｂAb３3 ，。、-（）\n")), max_size=30))
async def test_the_database_normalises_as_python_does(session: object, text: str) -> None:
    """`search_text` in SQL (migration 0013) and `normalise` agree, so words typed are found as stored."""
    in_sql = await session.scalar(select(func.search_text(text, None, None)))  # type: ignore[attr-defined]
    assert in_sql == normalise(text)


@pure
@given(first=st.integers(min_value=19_000, max_value=21_000), length=st.integers(min_value=0, max_value=4_000))
def test_the_walk_back_covers_every_day_once_newest_first_in_growing_steps(first: int, length: int) -> None:
    last = first + length - 1
    steps = list(day_steps(first, last))
    days = [day for step in steps for day in reversed(step)]
    assert days == list(range(last, first - 1, -1))  # every day once, newest first, no gap
    assert all(len(step) > 0 for step in steps)
    sizes = [len(step) for step in steps]
    assert all(size == STEP_GROWTH**i for i, size in enumerate(sizes[:-1]))  # only the oldest step is cut short
    # A year is a handful of queries: 1 + 3 + 9 + … covers it in log3 steps.
    assert len(steps) <= max(1, math.ceil(math.log(2 * length + 1, STEP_GROWTH)))


@pure
@given(st.integers(min_value=-1000, max_value=40000), st.integers(min_value=0, max_value=800))
def test_a_run_of_days_is_asked_for_in_few_keys_covering_exactly_those_days(first: int, length: int) -> None:
    days = range(first, first + length)
    covered: list[int] = []
    sizes = {tag: size for size, tag in DAY_BLOCKS}
    keys = day_keys(days)
    for key in keys:
        size, block = sizes[key[0]], int(key[1:])
        covered += range(block * size, (block + 1) * size)
    assert covered == list(days)
    assert len(keys) <= 32 + length // 81
