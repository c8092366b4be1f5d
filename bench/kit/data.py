"""Data a benchmark sends: points inside the grid map, `POST /v1/requests` bodies, a mix.

* `land_points`: distinct points inside the grid map, at least ~66 m apart (intake links two
  requests of one category within 50 m as duplicates, and the benchmarks want none).
* `request_body`: a `POST /v1/requests` body for point n, with a fixed category mix
  (`CATEGORY_MIX`, `category_for`).
* `shuffled`: a seeded shuffle.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from typing import Any


def land_points(
    geometries: Sequence[dict[str, Any]], count: int, seed: int, spacing_deg: float = 0.0008
) -> list[tuple[float, float]]:
    """`count` distinct (lon, lat) points inside the grids, shuffled: a lattice `spacing_deg` apart
    (about 89 m north-south, the same distance east-west), each point moved by at most 1/8 of the
    spacing each way, so no two points are closer than about 66 m."""
    import numpy as np
    import shapely

    shapes = [shapely.geometry.shape(g) for g in geometries]
    tree = shapely.STRtree(shapes)
    bounds = np.array([s.bounds for s in shapes])
    min_lon, min_lat = bounds[:, 0].min(), bounds[:, 1].min()
    max_lon, max_lat = bounds[:, 2].max(), bounds[:, 3].max()
    dlat = spacing_deg
    dlon = spacing_deg / math.cos(math.radians((min_lat + max_lat) / 2))
    lons = np.arange(min_lon + dlon / 2, max_lon, dlon)
    lats = np.arange(min_lat + dlat / 2, max_lat, dlat)
    grid_lon, grid_lat = np.meshgrid(lons, lats)
    rng = np.random.default_rng(seed)
    # Jitter of at most 1/8 spacing each way keeps neighbours >= 3/4 spacing (~66 m) apart.
    xs = grid_lon.ravel() + rng.uniform(-dlon / 8, dlon / 8, grid_lon.size)
    ys = grid_lat.ravel() + rng.uniform(-dlat / 8, dlat / 8, grid_lat.size)
    points = shapely.points(xs, ys)
    hit_points, _ = tree.query(points, predicate="intersects")
    inside = np.unique(hit_points)
    if len(inside) < count:
        raise RuntimeError(f"only {len(inside)} lattice points fall inside the grids; {count} wanted")
    chosen = rng.permutation(inside)[:count]
    return [(round(float(xs[i]), 6), round(float(ys[i]), 6)) for i in chosen]


# (category, weight, attributes builder, routes to): the mix every request body and every
# pre-inserted request uses. Mostly grid-team work (the costlier routing path), some departments,
# a little key-group (leader notification).
CATEGORY_MIX: list[tuple[str, int, str]] = [
    ("env.noise", 40, "grid team"),
    ("housing.property", 20, "grid team"),
    ("env.sanitation", 10, "department HB"),
    ("city.street_light", 10, "district department"),
    ("utilities.power", 5, "department DL"),
    ("traffic", 5, "department JT"),
    ("elderly", 4, "department MZ"),
    ("medical", 4, "department WJ"),
    ("land.acquisition", 2, "department ZR, key group"),
]
_CATEGORY_WHEEL = [code for code, weight, _ in CATEGORY_MIX for _ in range(weight)]
_PHRASES = [
    "楼下夜间施工噪声很大，影响休息",
    "小区路灯坏了好几天，晚上出行不安全",
    "物业长期不处理电梯故障，老人上下楼困难",
    "垃圾清运不及时，气味很大",
    "路口红绿灯时间太短，行人来不及过马路",
    "家中老人需要居家养老服务，想咨询办理流程",
    "社区卫生服务站周末不开门，看病不方便",
    "停电频繁，希望供电部门查明原因",
]
_NAMES = ["张三", "李四", "王五", "赵六", "陈静", "刘洋", "周敏", "吴磊"]
_NOISE = ["construction", "shop", "neighbour", "traffic"]


def category_for(n: int) -> str:
    return _CATEGORY_WHEEL[(n * 37) % len(_CATEGORY_WHEEL)]


def request_body(n: int, point: tuple[float, float], prefix: str) -> bytes:
    """Body n: its own point, phone and external id, so no two are duplicates of each other."""
    category = category_for(n)
    body: dict[str, Any] = {
        "channel": "hotline",
        "category": category,
        "description": f"{_PHRASES[n % len(_PHRASES)]}。第{n}号来电。",
        "location": {"lat": point[1], "lon": point[0]},
        "citizen": {"name": _NAMES[n % len(_NAMES)], "phone": f"139{n % 100_000_000:08d}", "anonymous": False},
        "external_id": f"{prefix}-{n}",
    }
    if category == "env.noise":
        body["attributes"] = {"noise_source": _NOISE[n % len(_NOISE)]}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def shuffled(items: list[Any], seed: int) -> list[Any]:
    out = list(items)
    random.Random(seed).shuffle(out)
    return out
