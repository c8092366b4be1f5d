"""The demo city's org-unit tree (city → district → street → community → grid) with polygons.

Pure and deterministic: no database, no I/O. The city is Ningbo-like: six real districts with
their real codes, placed roughly where they really are, inside Ningbo's real extent.

How the polygons are built:

* One lattice of vertices covers the extent, one vertex every 1/120 degree (half an arc-minute,
  about 0.8 km x 0.9 km). The lattice's interior vertices are moved pseudo-randomly by a
  ``random.Random(seed)`` by less than a quarter of a cell, so every lattice cell stays a convex
  quadrilateral. All coordinates are rounded to 6 decimals once, when the vertex is made, so a
  vertex shared by two neighbours is the very same float in both.
* ``_MAP`` paints the land in blocks of 2 x 2 lattice cells, one character per block, naming the
  street the block belongs to ("~" sea, "." land of another county). A street's tier says how many
  grids each of its blocks holds: 4 in the dense urban core, 2 in the inner suburbs, 1 elsewhere.
* Each street's blocks are cut into contiguous communities by recursive bisection; each grid is
  one rectangle of lattice cells whose ring walks every lattice vertex on its border, so grids tile
  their community exactly and neighbours share their edges vertex for vertex.
* Communities, streets, districts and the city get the shapely ``unary_union`` of their children.

Codes and names do not depend on the seed: only the geometry does.
"""

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import shapely
from shapely.geometry import Polygon, mapping
from shapely.geometry.base import BaseGeometry

__all__ = [
    "CITY_CENTRE",
    "EXTENT",
    "LEVELS",
    "UnitSpec",
    "generate_units",
    "grid_units",
]

CITY_CENTRE: Final[tuple[float, float]] = (121.55, 29.87)  # (lon, lat): 三江口
EXTENT: Final[tuple[float, float, float, float]] = (121.2, 29.6, 122.0, 30.1)  # lon/lat min, max
LEVELS: Final[tuple[str, ...]] = ("city", "district", "street", "community", "grid")


@dataclass(frozen=True, slots=True)
class UnitSpec:
    code: str  # stable code, digits only
    name: str  # Chinese name
    name_en: str  # English/pinyin name
    level: str  # "city" | "district" | "street" | "community" | "grid"
    parent_code: str | None  # None only for the city
    geometry: dict[str, Any] | None  # GeoJSON geometry, WGS84, [lon, lat]


# --- the lattice -------------------------------------------------------------------------------

_CELLS_PER_DEGREE: Final = 120
_LATTICE_COLS: Final = 96  # (122.0 - 121.2) * 120
_LATTICE_ROWS: Final = 60  # (30.1 - 29.6) * 120
_JITTER: Final = 0.22  # largest move of a vertex, as a fraction of a cell, on each axis
_BLOCK: Final = 2  # a map character covers _BLOCK x _BLOCK lattice cells

# One character per 2 x 2 lattice cells (1/60 degree square), north at the top, west at the left.
# Letters are streets (see _STREETS), "~" is sea, "." is land of a county the demo leaves out.
_MAP: Final[tuple[str, ...]] = (
    "...................~~~~~~~~~~~~~~~~~~~~~~~~~~~~~",
    "...................~~~~~~~~~~~~~~~~~~~~~~~~~~~~~",
    "...................~~~~~~~~~~~~~~~~~~~~~~~~~~~~~",
    "..........hhhhhhhhhnnnnn~~~~~~~~~~~~~~~~~~~~~~~~",
    "..........hhhhhhhhhnnnnnnn~~~~~~~~~~~~~~~~~~~~~~",
    "..........hhhhhhhhggnnnnnnno~~~~~~~~~~~~~~~~~~~~",
    "..........hhhhhhhggggnnnnnnooo~~~~~~~~~~~~~~~~~~",
    "..........hhhhhhhgggggnnmmmmoooo~~~~~~~~~~~~~~~~",
    "..........hhhhhhgggggggmmmmmoooooo~~~~~~~~~~~~~~",
    "..........hhhhhhggggggffmmmmiiiioojj~~~~~~~~~~~~",
    "ddddddddhhhhhhhggggggeffffmiiiiiiijjjj~~~~~~~~~~",
    "dddddddddccccccaaeeeeefffffiiiiiikjjjjjj~~~~~~~~",
    "dddddddddcccccccaaaeeeeppppiiiiikkkjjjjjjj~~~~~~",
    "dddddddddcccccccaaaaaappppprrrrrkkkkjjjjjlll~~~~",
    "dddddddddcccccccbbbaaappppprrrrrkkkkkjjjllllll~~",
    "dddddddddcccccccbbbbbappppprrrrrkkkkkkklllllllll",
    "dddddddddcccccccbbbbbqqqpprrrrrrkkkkkkklllllllll",
    "dddddddddcccccccbbbbqqqqqqrrrrrrkkkkkkklllllllll",
    "dddddddddcccccccbbbqqqqqqqqsssssskkkkkllllllllll",
    "dddddddddccccctttbqqqqqqqqssssssssskkkllllllllll",
    "wwwddddddvvttttttttqqqqqqsssssssssssskll~~~~~~~~",
    "wwwwwwwvvvvtttttttttqqqqqsssssssssssssll~~~~~~~~",
    "wwwwwwwvvvvvtttttttttqqqsssssssssssssssl~~~~~~~~",
    "wwwwwwwvvvvvvttttttttttqssssssssssssssss~~~~~~~~",
    "wwwwwwwvvvvvvvttttttuuuussssssssssssssss~~~~~~~~",
    "wwwwwwwvvvvvvvuuuuuuuuuussssssssssssssss~~~~~~~~",
    "wwwwwwwvvvvvvvuuuuuuuuuuusssssss~~~~~~~~~~~~~~~~",
    "wwwwwwwvvvvvvvuuuuuuuuuuusssssss~~~~~~~~~~~~~~~~",
    "wwwwwwwvvvvvvuuuuuuuuuuuuussssss~~~~~~~~~~~~~~~~",
    "wwwwwwvvvvvvvuuuuuuuuuuuuussssss~~~~~~~~~~~~~~~~",
)


# --- the names ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _District:
    code: str
    name: str
    name_en: str


@dataclass(frozen=True, slots=True)
class _Street:
    key: str  # its character in _MAP
    district_code: str
    name: str
    name_en: str
    is_town: bool  # 镇 (codes from 101) rather than 街道 (codes from 001)
    tier: int  # grids per map block: 4, 2 or 1
    rural: bool  # its communities after the first are villages (村)


_CITY_CODE: Final = "3302"

_DISTRICTS: Final[tuple[_District, ...]] = (
    _District("330203", "海曙区", "Haishu District"),
    _District("330205", "江北区", "Jiangbei District"),
    _District("330206", "北仑区", "Beilun District"),
    _District("330211", "镇海区", "Zhenhai District"),
    _District("330212", "鄞州区", "Yinzhou District"),
    _District("330213", "奉化区", "Fenghua District"),
)

_STREETS: Final[tuple[_Street, ...]] = (
    _Street("a", "330203", "鼓楼街道", "Gulou Subdistrict", False, 4, False),
    _Street("b", "330203", "南门街道", "Nanmen Subdistrict", False, 2, False),
    _Street("c", "330203", "集士港镇", "Jishigang Town", True, 1, True),
    _Street("d", "330203", "章水镇", "Zhangshui Town", True, 1, True),
    _Street("e", "330205", "中马街道", "Zhongma Subdistrict", False, 4, False),
    _Street("f", "330205", "甬江街道", "Yongjiang Subdistrict", False, 2, False),
    _Street("g", "330205", "庄桥街道", "Zhuangqiao Subdistrict", False, 1, False),
    _Street("h", "330205", "慈城镇", "Cicheng Town", True, 1, True),
    _Street("i", "330206", "小港街道", "Xiaogang Subdistrict", False, 1, False),
    _Street("j", "330206", "新碶街道", "Xinqi Subdistrict", False, 1, False),
    _Street("k", "330206", "大碶街道", "Daqi Subdistrict", False, 1, False),
    _Street("l", "330206", "柴桥街道", "Chaiqiao Subdistrict", False, 1, True),
    _Street("m", "330211", "庄市街道", "Zhuangshi Subdistrict", False, 1, False),
    _Street("n", "330211", "骆驼街道", "Luotuo Subdistrict", False, 1, False),
    _Street("o", "330211", "招宝山街道", "Zhaobaoshan Subdistrict", False, 1, False),
    _Street("p", "330212", "明楼街道", "Minglou Subdistrict", False, 2, False),
    _Street("q", "330212", "首南街道", "Shounan Subdistrict", False, 1, False),
    _Street("r", "330212", "五乡镇", "Wuxiang Town", True, 1, True),
    _Street("s", "330212", "东钱湖镇", "Dongqianhu Town", True, 1, True),
    _Street("v", "330213", "锦屏街道", "Jinping Subdistrict", False, 1, False),
    _Street("u", "330213", "岳林街道", "Yuelin Subdistrict", False, 1, False),
    _Street("t", "330213", "江口街道", "Jiangkou Subdistrict", False, 1, True),
    _Street("w", "330213", "溪口镇", "Xikou Town", True, 1, True),
)

# Community names: urban ones become 社区 (codes from 001), rural ones 村 (codes from 201).
_URBAN_NAMES: Final[tuple[tuple[str, str], ...]] = (
    ("华严", "Huayan"),
    ("桂芳", "Guifang"),
    ("翠柏", "Cuibai"),
    ("新芝", "Xinzhi"),
    ("尹江", "Yinjiang"),
    ("望京", "Wangjing"),
    ("柳西", "Liuxi"),
    ("紫鹃", "Zijuan"),
    ("青林", "Qinglin"),
    ("天一", "Tianyi"),
    ("平桥", "Pingqiao"),
    ("银杏", "Yinxing"),
    ("孝闻", "Xiaowen"),
    ("镇明", "Zhenming"),
    ("中山", "Zhongshan"),
    ("解放", "Jiefang"),
    ("永丰", "Yongfeng"),
    ("常青", "Changqing"),
    ("丽园", "Liyuan"),
    ("南苑", "Nanyuan"),
    ("长春", "Changchun"),
    ("海晏", "Haiyan"),
    ("文昌", "Wenchang"),
    ("清河", "Qinghe"),
    ("荷花", "Hehua"),
    ("梅园", "Meiyuan"),
    ("竹林", "Zhulin"),
    ("松风", "Songfeng"),
    ("兰亭", "Lanting"),
    ("菊园", "Juyuan"),
    ("云溪", "Yunxi"),
    ("东湖", "Donghu"),
    ("西河", "Xihe"),
    ("北斗", "Beidou"),
    ("南塘", "Nantang"),
    ("甬水", "Yongshui"),
    ("明月", "Mingyue"),
    ("朝阳", "Chaoyang"),
    ("春晖", "Chunhui"),
    ("秋实", "Qiushi"),
    ("福泉", "Fuquan"),
    ("宝善", "Baoshan"),
    ("安澜", "Anlan"),
    ("和丰", "Hefeng"),
    ("德馨", "Dexin"),
    ("仁和", "Renhe"),
    ("怡然", "Yiran"),
    ("锦绣", "Jinxiu"),
    ("金桥", "Jinqiao"),
    ("银湖", "Yinhu"),
    ("玉泉", "Yuquan"),
    ("丹桂", "Dangui"),
    ("芳草", "Fangcao"),
    ("瑞丰", "Ruifeng"),
    ("康宁", "Kangning"),
    ("新河", "Xinhe"),
    ("外滩", "Waitan"),
    ("江滨", "Jiangbin"),
    ("海港", "Haigang"),
    ("白鹭", "Bailu"),
    ("凤凰", "Fenghuang"),
    ("麒麟", "Qilin"),
    ("青龙", "Qinglong"),
    ("卧龙", "Wolong"),
    ("龙潭", "Longtan"),
    ("鹤鸣", "Heming"),
    ("雁湖", "Yanhu"),
    ("莲池", "Lianchi"),
    ("樱花", "Yinghua"),
    ("桃源", "Taoyuan"),
    ("杏林", "Xinglin"),
    ("枫林", "Fenglin"),
    ("梧桐", "Wutong"),
    ("杨柳", "Yangliu"),
    ("东升", "Dongsheng"),
    ("西成", "Xicheng"),
    ("南浦", "Nanpu"),
    ("北渡", "Beidu"),
    ("新桥", "Xinqiao"),
    ("官桥", "Guanqiao"),
    ("石桥", "Shiqiao"),
    ("古渡", "Gudu"),
    ("文华", "Wenhua"),
    ("书院", "Shuyuan"),
    ("学府", "Xuefu"),
    ("紫薇", "Ziwei"),
    ("海棠", "Haitang"),
    ("翠竹", "Cuizhu"),
    ("金港", "Jingang"),
    ("银河", "Yinhe"),
    ("彩虹", "Caihong"),
    ("阳光", "Yangguang"),
    ("和平", "Heping"),
    ("幸福", "Xingfu"),
    ("泰和", "Taihe"),
)
_RURAL_NAMES: Final[tuple[tuple[str, str], ...]] = (
    ("李家", "Lijia"),
    ("陈家", "Chenjia"),
    ("王家", "Wangjia"),
    ("张家", "Zhangjia"),
    ("周家", "Zhoujia"),
    ("潘家", "Panjia"),
    ("鲍家", "Baojia"),
    ("何家", "Hejia"),
    ("俞家", "Yujia"),
    ("林家", "Linjia"),
    ("洪家", "Hongjia"),
    ("蒋家", "Jiangjia"),
    ("徐家", "Xujia"),
    ("孙家", "Sunjia"),
    ("胡家", "Hujia"),
    ("朱家", "Zhujia"),
    ("郑家", "Zhengjia"),
    ("谢家", "Xiejia"),
    ("下王", "Xiawang"),
    ("上庄", "Shangzhuang"),
    ("后塘", "Houtang"),
    ("前洋", "Qianyang"),
    ("沙河", "Shahe"),
    ("黄山", "Huangshan"),
    ("翠屏", "Cuiping"),
    ("栎社", "Lishe"),
    ("湖塘", "Hutang"),
    ("蔡郎桥", "Cailangqiao"),
    ("新塘", "Xintang"),
    ("双桥", "Shuangqiao"),
    ("三桥", "Sanqiao"),
    ("五星", "Wuxing"),
    ("七里", "Qili"),
    ("九曲", "Jiuqu"),
    ("十里", "Shili"),
    ("百梁", "Bailiang"),
    ("渡口", "Dukou"),
    ("盐场", "Yanchang"),
    ("渔港", "Yugang"),
    ("茶亭", "Chating"),
    ("桑园", "Sangyuan"),
    ("稻香", "Daoxiang"),
    ("山下", "Shanxia"),
    ("岭南", "Lingnan"),
    ("溪头", "Xitou"),
    ("岩头", "Yantou"),
    ("石塘", "Shitang"),
    ("柿林", "Shilin"),
    ("橘香", "Juxiang"),
    ("芦浦", "Lupu"),
    ("韩岭", "Hanling"),
    ("陶公", "Taogong"),
    ("殷湾", "Yinwan"),
    ("莫枝", "Mozhi"),
    ("高钱", "Gaoqian"),
    ("横山", "Hengshan"),
    ("大池", "Dachi"),
    ("小溪", "Xiaoxi"),
    ("上周", "Shangzhou"),
    ("下陈", "Xiachen"),
    ("狮山", "Shishan"),
    ("金鸡", "Jinji"),
    ("横塘", "Hengtang"),
    ("里河", "Lihe"),
    ("旧馆", "Jiuguan"),
)

_MIN_COMMUNITIES: Final = 3
_MAX_COMMUNITIES: Final = 8
_GRIDS_PER_COMMUNITY: Final = 10  # the target; the real number varies with the street's shape

Block = tuple[int, int]  # (column, row) of a map block; row 0 is the southernmost
Vertex = tuple[float, float]  # (lon, lat)


@dataclass(frozen=True, slots=True)
class _GridCells:
    """A rectangle of lattice cells: columns x0..x0+width-1, rows y0..y0+height-1."""

    x0: int
    y0: int
    width: int
    height: int


# --- public API --------------------------------------------------------------------------------


def generate_units(seed: int = 2026) -> list[UnitSpec]:
    """Ningbo-like demo city: parents always come before their children in the list.

    The list holds the city, then the districts, streets, communities and grids, each level
    sorted by code. The same seed always gives the same list; codes and names never depend on it.
    """
    vertices = _lattice(seed)
    blocks = _street_blocks()
    urban_names = iter(_URBAN_NAMES)
    rural_names = iter(_RURAL_NAMES)

    districts: list[UnitSpec] = []
    streets: list[UnitSpec] = []
    communities: list[UnitSpec] = []
    grids: list[UnitSpec] = []
    district_shapes: list[BaseGeometry] = []

    for district in _DISTRICTS:
        street_shapes: list[BaseGeometry] = []
        for street, street_code in _district_streets(district.code):
            parts = _split(blocks[street.key], _community_count(street, len(blocks[street.key])))
            community_shapes: list[BaseGeometry] = []
            next_urban, next_rural = 1, 201
            for index, part in enumerate(parts):
                is_village = street.rural and index > 0
                if is_village:
                    word, word_en = next(rural_names)
                    code = f"{street_code}{next_rural:03d}"
                    name, name_en = f"{word}村", f"{word_en} Village"
                    next_rural += 1
                else:
                    word, word_en = next(urban_names)
                    code = f"{street_code}{next_urban:03d}"
                    name, name_en = f"{word}社区", f"{word_en} Community"
                    next_urban += 1
                grid_shapes: list[BaseGeometry] = []
                for number, cells in enumerate(_grid_cells(part, street.tier), start=1):
                    ring = _ring(vertices, cells)
                    grid_shapes.append(Polygon(ring))
                    grids.append(
                        UnitSpec(
                            code=f"{code}{number:03d}",
                            name=f"{name}第{number}网格",
                            name_en=f"{name_en} Grid {number}",
                            level="grid",
                            parent_code=code,
                            geometry={"type": "Polygon", "coordinates": [ring]},
                        )
                    )
                community_shape = _union(grid_shapes)
                community_shapes.append(community_shape)
                communities.append(UnitSpec(code, name, name_en, "community", street_code, _geojson(community_shape)))
            street_shape = _union(community_shapes)
            street_shapes.append(street_shape)
            streets.append(
                UnitSpec(
                    street_code,
                    street.name,
                    street.name_en,
                    "street",
                    district.code,
                    _geojson(street_shape),
                )
            )
        district_shape = _union(street_shapes)
        district_shapes.append(district_shape)
        districts.append(
            UnitSpec(
                district.code,
                district.name,
                district.name_en,
                "district",
                _CITY_CODE,
                _geojson(district_shape),
            )
        )

    city = UnitSpec(_CITY_CODE, "宁波市", "Ningbo", "city", None, _geojson(_union(district_shapes)))
    ordered = [city]
    for level in (districts, streets, communities, grids):
        ordered.extend(sorted(level, key=lambda unit: unit.code))
    return ordered


def grid_units(units: Iterable[UnitSpec]) -> list[UnitSpec]:
    """Just the grids, in the order given."""
    return [unit for unit in units if unit.level == "grid"]


# --- building blocks ---------------------------------------------------------------------------


def _lattice(seed: int) -> list[list[Vertex]]:
    """vertices[column][row], jittered inside, straight on the extent's border, 6 decimals."""
    rng = random.Random(seed)
    min_lon, min_lat = EXTENT[0], EXTENT[1]
    vertices: list[list[Vertex]] = [[] for _ in range(_LATTICE_COLS + 1)]
    for row in range(_LATTICE_ROWS + 1):
        for column in range(_LATTICE_COLS + 1):
            x, y = float(column), float(row)
            if 0 < column < _LATTICE_COLS and 0 < row < _LATTICE_ROWS:
                x += rng.uniform(-_JITTER, _JITTER)
                y += rng.uniform(-_JITTER, _JITTER)
            lon = round(min_lon + x / _CELLS_PER_DEGREE, 6)
            lat = round(min_lat + y / _CELLS_PER_DEGREE, 6)
            vertices[column].append((lon, lat))
    return vertices


def _street_blocks() -> dict[str, list[Block]]:
    """Each street's map blocks, in reading order (north to south, west to east)."""
    blocks: dict[str, list[Block]] = {street.key: [] for street in _STREETS}
    rows = len(_MAP)
    for line_number, line in enumerate(_MAP):
        for column, key in enumerate(line):
            if key in blocks:
                blocks[key].append((column, rows - 1 - line_number))
    return blocks


def _district_streets(district_code: str) -> list[tuple[_Street, str]]:
    """The district's streets with their codes: 街道 numbered from 001, 镇 from 101."""
    result: list[tuple[_Street, str]] = []
    subdistricts, towns = 1, 101
    for street in _STREETS:
        if street.district_code != district_code:
            continue
        if street.is_town:
            result.append((street, f"{district_code}{towns:03d}"))
            towns += 1
        else:
            result.append((street, f"{district_code}{subdistricts:03d}"))
            subdistricts += 1
    return result


def _community_count(street: _Street, block_count: int) -> int:
    wanted = round(block_count * street.tier / _GRIDS_PER_COMMUNITY)
    return max(_MIN_COMMUNITIES, min(_MAX_COMMUNITIES, wanted, block_count))


def _reading_order(block: Block) -> tuple[int, int]:
    return (-block[1], block[0])


def _split(blocks: Sequence[Block], parts: int) -> list[list[Block]]:
    """Cut blocks into `parts` edge-connected pieces of near-equal size, in reading order."""
    pieces = _bisect(list(blocks), parts)
    if pieces is None:
        raise ValueError(f"cannot cut {len(blocks)} blocks into {parts} connected pieces")
    return sorted(
        (sorted(piece, key=_reading_order) for piece in pieces),
        key=lambda piece: _reading_order(piece[0]),
    )


def _bisect(blocks: list[Block], parts: int) -> list[list[Block]] | None:
    if parts == 1:
        return [blocks] if _connected(blocks) else None
    first_parts = parts // 2
    target = round(len(blocks) * first_parts / parts)
    columns = [column for column, _ in blocks]
    rows = [row for _, row in blocks]
    wide = max(columns) - min(columns) >= max(rows) - min(rows)
    keys = (_by_column, _by_row) if wide else (_by_row, _by_column)
    for shift in (0, 1, -1, 2, -2, 3, -3):
        cut = target + shift
        if not first_parts <= cut <= len(blocks) - (parts - first_parts):
            continue
        for key in keys:
            ordered = sorted(blocks, key=key)
            head, tail = ordered[:cut], ordered[cut:]
            if not (_connected(head) and _connected(tail)):
                continue
            head_pieces = _bisect(head, first_parts)
            tail_pieces = _bisect(tail, parts - first_parts)
            if head_pieces is not None and tail_pieces is not None:
                return head_pieces + tail_pieces
    return None


def _by_column(block: Block) -> tuple[int, int]:
    return (block[0], block[1])


def _by_row(block: Block) -> tuple[int, int]:
    return (block[1], block[0])


def _connected(blocks: Sequence[Block]) -> bool:
    """Whether the blocks form one piece through shared edges (corners do not count)."""
    if not blocks:
        return False
    remaining = set(blocks)
    stack = [blocks[0]]
    remaining.discard(blocks[0])
    while stack:
        column, row = stack.pop()
        for neighbour in ((column + 1, row), (column - 1, row), (column, row + 1), (column, row - 1)):
            if neighbour in remaining:
                remaining.remove(neighbour)
                stack.append(neighbour)
    return not remaining


def _grid_cells(blocks: Sequence[Block], tier: int) -> list[_GridCells]:
    """The grids of some map blocks: a block is 1 grid (tier 1), 2 halves or 4 quarters."""
    grids: list[_GridCells] = []
    for column, row in blocks:
        x0, y0 = column * _BLOCK, row * _BLOCK
        if tier == 1:
            grids.append(_GridCells(x0, y0, _BLOCK, _BLOCK))
        elif tier == 2:  # north half first, then south half
            grids.append(_GridCells(x0, y0 + 1, _BLOCK, 1))
            grids.append(_GridCells(x0, y0, _BLOCK, 1))
        elif tier == 4:  # north-west, north-east, south-west, south-east
            for dy in (1, 0):
                for dx in (0, 1):
                    grids.append(_GridCells(x0 + dx, y0 + dy, 1, 1))
        else:
            raise ValueError(f"unknown tier {tier}")
    return grids


def _ring(vertices: list[list[Vertex]], cells: _GridCells) -> list[list[float]]:
    """The closed counter-clockwise ring around the cells, through every lattice vertex on it."""
    x0, y0, width, height = cells.x0, cells.y0, cells.width, cells.height
    path = (
        [(x0 + step, y0) for step in range(width)]  # south edge, west to east
        + [(x0 + width, y0 + step) for step in range(height)]  # east edge, south to north
        + [(x0 + width - step, y0 + height) for step in range(width)]  # north edge, east to west
        + [(x0, y0 + height - step) for step in range(height)]  # west edge, north to south
    )
    ring = [[*vertices[column][row]] for column, row in path]
    ring.append([*ring[0]])
    return ring


def _union(shapes: Sequence[BaseGeometry]) -> BaseGeometry:
    """The union, with counter-clockwise exteriors and clockwise holes (RFC 7946)."""
    merged: BaseGeometry = shapely.orient_polygons(shapely.unary_union(list(shapes)))
    return merged


def _geojson(shape: BaseGeometry) -> dict[str, Any]:
    """A GeoJSON geometry made of plain dicts, lists and floats (JSON-serialisable)."""
    geo = mapping(shape)
    return {"type": geo["type"], "coordinates": _plain(geo["coordinates"])}


def _plain(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    return float(value)
