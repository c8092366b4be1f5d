"""Org-unit boundaries as GeoJSON for maps (the console's dispatch board, dashboard and public page).

Public like the disclosure pages: boundaries and names of administrative units and grids, no people."""

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from services.org import geojson
from shared.deps import SessionDep
from shared.web.errors import problem_responses

router = APIRouter(prefix="/v1/geo", tags=["catalog"])
CACHE_CONTROL = "public, max-age=300"


class UnitFeatureProperties(BaseModel):
    code: str
    name: str
    name_en: str | None
    level: Literal["city", "district", "street", "community", "grid"]
    parent_code: str | None


class UnitFeature(BaseModel):
    type: Literal["Feature"]
    id: str
    properties: UnitFeatureProperties
    geometry: dict[str, Any] = Field(description="GeoJSON Polygon or MultiPolygon, WGS84 [lon, lat]")


class UnitFeatureCollection(BaseModel):
    type: Literal["FeatureCollection"]
    features: list[UnitFeature]


@router.get(
    "/units",
    response_class=Response,
    responses={
        200: {"model": UnitFeatureCollection, "content": {"application/geo+json": {}}, "description": "GeoJSON"},
        **problem_responses(404, 422),
    },
)
async def unit_boundaries(
    session: SessionDep,
    level: Annotated[
        Literal["city", "district", "street", "community", "grid"], Query(description="Which units to draw")
    ] = "district",
    parent_code: Annotated[
        str | None,
        Query(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z_-]+$", description="Only the units under this one"),
    ] = None,
) -> Response:
    """The boundaries of the org units of a level as a GeoJSON FeatureCollection (no login).

    Grids carry their stored polygons; a community, street, district or the city is the union of its grids
    (simplified to about 20 m). Each feature's `properties` hold `code`, `name`, `name_en`, `level` and
    `parent_code`; `id` is the code. Cached for five minutes.
    """
    collection = await geojson.unit_features(session, level=level, parent_code=parent_code)
    return Response(
        orjson.dumps(collection), media_type="application/geo+json", headers={"Cache-Control": CACHE_CONTROL}
    )
