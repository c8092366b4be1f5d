"""The demo city's org-unit tree: codes, names, order and polygons that tile level by level."""

import json
import time
from collections import Counter
from collections.abc import Iterator, Sequence

import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, Polygon, shape
from shapely.geometry.base import BaseGeometry

from cli.demo.geography import (
    CITY_CENTRE,
    EXTENT,
    LEVELS,
    UnitSpec,
    generate_units,
    grid_units,
)

CODE_LENGTHS = {"city": 4, "district": 6, "street": 9, "community": 12, "grid": 15}
NINGBO_DISTRICTS = {
    "330203": "海曙区",
    "330205": "江北区",
    "330206": "北仑区",
    "330211": "镇海区",
    "330212": "鄞州区",
    "330213": "奉化区",
}
CENTRAL_DISTRICTS = {"330203", "330205", "330212"}  # Haishu, Jiangbei, Yinzhou


pytestmark = pytest.mark.pure  # no database, no Redis


@pytest.fixture(scope="module")
def units() -> list[UnitSpec]:
    return generate_units()


@pytest.fixture(scope="module")
def shapes(units: list[UnitSpec]) -> dict[str, BaseGeometry]:
    return {unit.code: shape(unit.geometry) for unit in units if unit.geometry is not None}


def by_level(units: Sequence[UnitSpec], level: str) -> list[UnitSpec]:
    return [unit for unit in units if unit.level == level]


def children_of(units: Sequence[UnitSpec]) -> dict[str, list[UnitSpec]]:
    children: dict[str, list[UnitSpec]] = {}
    for unit in units:
        if unit.parent_code is not None:
            children.setdefault(unit.parent_code, []).append(unit)
    return children


def positions(geometry: object) -> Iterator[list[float]]:
    """Every [lon, lat] position in a GeoJSON coordinates tree."""
    assert isinstance(geometry, list)
    if geometry and isinstance(geometry[0], float):
        yield geometry
        return
    for item in geometry:
        yield from positions(item)


def assert_children_tile_parents(units: Sequence[UnitSpec], shapes: dict[str, BaseGeometry], parent_level: str) -> None:
    """Children cover each parent exactly (same union, same total area) and never overlap."""
    children = children_of(units)
    parents = by_level(units, parent_level)
    assert parents
    for parent in parents:
        kids = [shapes[kid.code] for kid in children[parent.code]]
        whole = shapes[parent.code]
        assert sum(kid.area for kid in kids) == pytest.approx(whole.area, rel=1e-9), parent.code
        assert shapely.unary_union(kids).equals(whole), parent.code
    # No two units of the child level overlap anywhere in the city, whoever their parent is.
    child_level = LEVELS[LEVELS.index(parent_level) + 1]
    geoms = [shapes[unit.code] for unit in by_level(units, child_level)]
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    pairs = left < right
    overlap = shapely.area(shapely.intersection([geoms[i] for i in left[pairs]], [geoms[j] for j in right[pairs]]))
    smallest = min(geom.area for geom in geoms)
    assert pairs.any()  # neighbours do touch
    assert float(overlap.max()) <= smallest * 1e-9


def test_grid_count_is_about_one_thousand(units: list[UnitSpec]) -> None:
    assert 900 <= len(grid_units(units)) <= 1300


def test_city_has_the_six_real_ningbo_districts_with_two_to_four_streets_each(
    units: list[UnitSpec],
) -> None:
    (city,) = by_level(units, "city")
    assert (city.code, city.name, city.parent_code) == ("3302", "宁波市", None)
    districts = by_level(units, "district")
    assert {unit.code: unit.name for unit in districts} == NINGBO_DISTRICTS
    streets_per_district = Counter(unit.parent_code for unit in by_level(units, "street"))
    assert set(streets_per_district) == set(NINGBO_DISTRICTS)
    assert all(2 <= count <= 4 for count in streets_per_district.values())


def test_every_street_has_a_few_communities_and_every_community_has_grids(
    units: list[UnitSpec],
) -> None:
    children = children_of(units)
    for street in by_level(units, "street"):
        assert 3 <= len(children[street.code]) <= 8, street.code
    for community in by_level(units, "community"):
        kids = children[community.code]
        assert kids and all(kid.level == "grid" for kid in kids), community.code


def test_codes_are_unique_and_nested_in_parent_codes(units: list[UnitSpec]) -> None:
    codes = [unit.code for unit in units]
    assert len(codes) == len(set(codes))
    levels = {unit.code: unit.level for unit in units}
    for unit in units:
        assert unit.code.isdigit() and len(unit.code) == CODE_LENGTHS[unit.level], unit.code
        if unit.level == "city":
            assert unit.parent_code is None
            continue
        assert unit.parent_code is not None
        assert unit.code.startswith(unit.parent_code), unit.code
        assert levels[unit.parent_code] == LEVELS[LEVELS.index(unit.level) - 1], unit.code


def test_parents_come_before_children(units: list[UnitSpec]) -> None:
    seen: set[str] = set()
    for unit in units:
        assert unit.parent_code is None or unit.parent_code in seen, unit.code
        seen.add(unit.code)


def test_street_and_community_codes_follow_the_statistical_numbering(units: list[UnitSpec]) -> None:
    """街道 001-099, 镇 101-199; 社区 001-199, 村 201-399."""
    for street in by_level(units, "street"):
        number = int(street.code[-3:])
        if street.name.endswith("镇"):
            assert 101 <= number <= 199, street.code
            assert street.name_en.endswith(" Town")
        else:
            assert street.name.endswith("街道") and 1 <= number <= 99, street.code
            assert street.name_en.endswith(" Subdistrict")
    for community in by_level(units, "community"):
        number = int(community.code[-3:])
        if community.name.endswith("村"):
            assert 201 <= number <= 399 and community.name_en.endswith(" Village"), community.code
        else:
            assert community.name.endswith("社区") and 1 <= number <= 199, community.code
            assert community.name_en.endswith(" Community"), community.code


def test_names_are_unique_and_grids_are_named_after_their_community(units: list[UnitSpec]) -> None:
    for level in ("district", "street", "community"):
        same_level = by_level(units, level)
        assert len({unit.name for unit in same_level}) == len(same_level), level
        assert len({unit.name_en for unit in same_level}) == len(same_level), level
    communities = {unit.code: unit for unit in by_level(units, "community")}
    for grid in grid_units(units):
        assert grid.parent_code is not None
        community = communities[grid.parent_code]
        number = int(grid.code[-3:])
        assert grid.name == f"{community.name}第{number}网格"
        assert grid.name_en == f"{community.name_en} Grid {number}"


def test_grid_units_returns_just_the_grids_in_order(units: list[UnitSpec]) -> None:
    grids = grid_units(units)
    assert grids == [unit for unit in units if unit.level == "grid"]
    assert {unit.level for unit in grids} == {"grid"}


def test_every_grid_polygon_is_valid_and_closed(units: list[UnitSpec]) -> None:
    for grid in grid_units(units):
        geometry = grid.geometry
        assert geometry is not None and geometry["type"] == "Polygon", grid.code
        (ring,) = geometry["coordinates"]  # no holes
        assert len(ring) >= 5 and ring[0] == ring[-1], grid.code
        polygon = Polygon(ring)
        assert polygon.is_valid and polygon.area > 0, grid.code
        assert polygon.exterior.is_ccw, grid.code


def test_every_unit_has_one_valid_counter_clockwise_polygon(
    units: list[UnitSpec], shapes: dict[str, BaseGeometry]
) -> None:
    """All districts, streets and communities are in one piece, so their unions are Polygons."""
    for unit in units:
        assert unit.geometry is not None and unit.geometry["type"] == "Polygon", unit.code
        polygon = shapes[unit.code]
        assert isinstance(polygon, Polygon) and polygon.is_valid, unit.code
        assert polygon.exterior.is_ccw, unit.code
        assert all(not hole.is_ccw for hole in polygon.interiors), unit.code


def test_grids_tile_each_community_without_gaps_or_overlaps(
    units: list[UnitSpec], shapes: dict[str, BaseGeometry]
) -> None:
    assert_children_tile_parents(units, shapes, "community")


@pytest.mark.parametrize("parent_level", ["city", "district", "street"])
def test_higher_levels_tile_their_parent_without_gaps_or_overlaps(
    units: list[UnitSpec], shapes: dict[str, BaseGeometry], parent_level: str
) -> None:
    assert_children_tile_parents(units, shapes, parent_level)


def test_neighbouring_grids_share_identical_vertices(units: list[UnitSpec]) -> None:
    """Vertices are rounded to 6 decimals, and where two grids touch, every vertex of one that lies
    on the other's border is one of the other's vertices, as the very same floats."""
    grids = grid_units(units)
    rings: list[list[tuple[float, float]]] = []
    for grid in grids:
        assert grid.geometry is not None
        ring = [(lon, lat) for lon, lat in grid.geometry["coordinates"][0][:-1]]
        assert all(lon == round(lon, 6) and lat == round(lat, 6) for lon, lat in ring), grid.code
        rings.append(ring)
    polygons = [Polygon(ring) for ring in rings]
    left, right = shapely.STRtree(polygons).query(polygons, predicate="touches")
    assert len(left) > 2 * len(grids)
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        on_border = shapely.dwithin(shapely.points(rings[i]), polygons[j].exterior, 1e-5)
        shared = {vertex for vertex, hit in zip(rings[i], on_border.tolist(), strict=True) if hit}
        assert shared and shared <= set(rings[j]), (grids[i].code, grids[j].code)


def test_city_centre_falls_in_a_grid_of_a_central_district(
    units: list[UnitSpec], shapes: dict[str, BaseGeometry]
) -> None:
    centre = Point(*CITY_CENTRE)
    assert CITY_CENTRE == (121.55, 29.87)
    holders = [grid for grid in grid_units(units) if shapes[grid.code].covers(centre)]
    assert len(holders) == 1
    assert holders[0].code[:6] in CENTRAL_DISTRICTS


def test_all_coordinates_within_ningbo_extent(units: list[UnitSpec]) -> None:
    min_lon, min_lat, max_lon, max_lat = EXTENT
    assert (min_lon, min_lat, max_lon, max_lat) == (121.2, 29.6, 122.0, 30.1)
    for unit in units:
        assert unit.geometry is not None
        for lon, lat in positions(unit.geometry["coordinates"]):
            assert min_lon <= lon <= max_lon and min_lat <= lat <= max_lat, unit.code


def test_districts_sit_roughly_where_they_really_are(shapes: dict[str, BaseGeometry]) -> None:
    centre_lon, centre_lat = CITY_CENTRE
    where = {code: shapes[code].centroid for code in NINGBO_DISTRICTS}
    haishu, jiangbei, beilun = where["330203"], where["330205"], where["330206"]
    zhenhai, yinzhou, fenghua = where["330211"], where["330212"], where["330213"]
    assert haishu.x < centre_lon and abs(haishu.y - centre_lat) < 0.1  # west-centre
    assert jiangbei.y > centre_lat and abs(jiangbei.x - centre_lon) < 0.15  # north of centre
    assert zhenhai.x > centre_lon and zhenhai.y > centre_lat  # north-east
    assert beilun.x == max(point.x for point in where.values())  # east
    assert yinzhou.x > centre_lon and yinzhou.y < centre_lat  # south-east
    assert fenghua.y == min(point.y for point in where.values())  # south


def test_generation_is_deterministic(units: list[UnitSpec]) -> None:
    assert generate_units() == units
    assert generate_units(seed=7) == generate_units(seed=7)


def test_another_seed_moves_the_polygons_but_keeps_codes_and_names(units: list[UnitSpec]) -> None:
    other = generate_units(seed=1)
    assert [(u.code, u.name, u.name_en, u.level, u.parent_code) for u in other] == [
        (u.code, u.name, u.name_en, u.level, u.parent_code) for u in units
    ]
    assert [u.geometry for u in grid_units(other)] != [u.geometry for u in grid_units(units)]


def test_geometry_is_json_serialisable(units: list[UnitSpec]) -> None:
    for unit in units:
        text = json.dumps(unit.geometry, allow_nan=False)
        # A round trip gives back equal data only if it was plain dicts, lists and floats.
        assert json.loads(text) == unit.geometry, unit.code


def test_generation_takes_well_under_two_seconds() -> None:
    started = time.perf_counter()
    generate_units(seed=99)
    assert time.perf_counter() - started < 1.0


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_any_seed_gives_valid_convex_grids_inside_the_extent_around_the_centre(seed: int) -> None:
    units = generate_units(seed)
    min_lon, min_lat, max_lon, max_lat = EXTENT
    centre = Point(*CITY_CENTRE)
    holders = []
    for grid in grid_units(units):
        assert grid.geometry is not None
        polygon = Polygon(grid.geometry["coordinates"][0])
        assert polygon.is_valid and polygon.exterior.is_ccw, grid.code
        # 1 x 1 grids are single lattice cells: the jitter must leave them convex.
        if len(grid.geometry["coordinates"][0]) == 5:
            assert polygon.convex_hull.area == pytest.approx(polygon.area, rel=1e-12), grid.code
        lon_lo, lat_lo, lon_hi, lat_hi = polygon.bounds
        assert min_lon <= lon_lo and lon_hi <= max_lon and min_lat <= lat_lo and lat_hi <= max_lat
        if polygon.covers(centre):
            holders.append(grid.code)
    assert len(holders) == 1 and holders[0][:6] in CENTRAL_DISTRICTS
