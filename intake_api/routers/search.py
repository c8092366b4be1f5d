"""Search, a caller's history by phone, and exports of requests (docs/search.md)."""

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from intake_api.deps import CurrentPrincipal
from intake_api.routers.requests import Filters
from services.intake.schemas import RequestOut
from services.search import exports, service
from services.search.schemas import PhoneLookup, SearchPage
from services.search.text import MAX_QUERY_CHARS
from shared.deps import SessionDep
from shared.pagination import Page
from shared.params import Cursor
from shared.web.errors import problem_responses

router = APIRouter(prefix="/v1", tags=["search and exports"])

SearchQuery = Annotated[
    str,
    Query(
        min_length=1,
        max_length=MAX_QUERY_CHARS,
        description="Words to find in the description, address and notes (all of them; Chinese needs no"
        " spaces: `噪音扰民` is one word found as written). One word needs two characters or more.",
        examples=["噪音扰民", "幸福小区 漏水", "中山路12号"],
    ),
]
PiiQuery = Annotated[
    bool,
    Query(description="Put the citizens' names and phones in the file (dispatchers only; audited)"),
]
CSV_CONTENT = "text/csv"
GEOJSON_CONTENT = "application/geo+json"


# A GeoJSON answer is JSON (`+json`): its schema says so, so clients and schemathesis read it as such.
_GEOJSON_SCHEMA = {
    "type": "object",
    "required": ["type", "features"],
    "properties": {"type": {"type": "string", "enum": ["FeatureCollection"]}, "features": {"type": "array"}},
}


def _file(description: str, media_type: str, example: Any) -> dict[int | str, dict[str, Any]]:
    schema = _GEOJSON_SCHEMA if media_type == GEOJSON_CONTENT else {"type": "string"}
    return {200: {"description": description, "content": {media_type: {"schema": schema, "example": example}}}}


_STAFF_CSV_EXAMPLE = ",".join(exports.STAFF_COLUMNS) + "\r\n"
_OPEN_CSV_EXAMPLE = ",".join(exports.OPEN_DATA_COLUMNS) + "\r\n"
_GEOJSON_EXAMPLE = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [121.555, 29.875]},
            "properties": {"category": "env.noise", "status": "closed"},
        }
    ],
}
_ERRORS = problem_responses(401, 403, 404, 422)


@router.get("/search/requests", response_model=SearchPage, responses=_ERRORS)
async def search_requests(
    session: SessionDep,
    principal: CurrentPrincipal,
    q: SearchQuery,
    filters: Filters,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size, at most 200")] = 20,
) -> SearchPage:
    """Search requests in your scope by free text in Chinese (description, address, notes), best match first.

    Every word must occur; the filters are those of `GET /v1/requests`. Ranking covers the newest 1,000
    matches (`window_full` says when older ones exist: narrow with filters or `received_to`). Staff only;
    citizens' names and phones are masked as in the list."""
    return await service.search_requests(session, principal, q, filters.to_service(), cursor, limit)


@router.post("/search/by-phone", response_model=Page[RequestOut], responses=_ERRORS)
async def requests_by_phone(
    session: SessionDep, principal: CurrentPrincipal, body: PhoneLookup, filters: Filters
) -> Page[RequestOut]:
    """A caller's requests in your scope, newest first (the call-taker's "has this caller called before").

    The number goes in the body, never in the URL; it is matched through its keyed hash, and every lookup is
    recorded in the admin audit trail (`requests.phone_lookup`, the number only as a hash reference)."""
    return await service.requests_by_phone(session, principal, body, filters.to_service())


def _stream(export: exports.Export, media_type: str) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        async for piece in exports.stream(export):
            yield piece

    return StreamingResponse(
        body(),
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{export.filename}"', "Cache-Control": "no-store"},
    )


@router.get(
    "/exports/requests.csv",
    response_class=StreamingResponse,
    responses={**_file("CSV, UTF-8 with a BOM, streamed", CSV_CONTENT, _STAFF_CSV_EXAMPLE), **_ERRORS},
)
async def export_requests_csv(
    session: SessionDep, principal: CurrentPrincipal, filters: Filters, pii: PiiQuery = False
) -> StreamingResponse:
    """The requests in your scope with the filters of `GET /v1/requests`, as CSV, streamed (a year of a
    district is fine). Names and phones are left out unless `pii=true` (dispatchers); every export is in the
    admin audit trail. For leaders (supervisors), analysts (auditors), dispatchers and admins."""
    export = await exports.prepare(session, principal, filters.to_service(), kind="staff", format="csv", pii=pii)
    return _stream(export, "text/csv; charset=utf-8")


@router.get(
    "/exports/requests.geojson",
    response_class=StreamingResponse,
    responses={**_file("GeoJSON FeatureCollection (WGS84), streamed", GEOJSON_CONTENT, _GEOJSON_EXAMPLE), **_ERRORS},
)
async def export_requests_geojson(
    session: SessionDep, principal: CurrentPrincipal, filters: Filters, pii: PiiQuery = False
) -> StreamingResponse:
    """The same export as `requests.csv` as a GeoJSON FeatureCollection: one Point feature a request
    ([lon, lat], WGS84; a null geometry when it has no coordinates)."""
    export = await exports.prepare(session, principal, filters.to_service(), kind="staff", format="geojson", pii=pii)
    return _stream(export, GEOJSON_CONTENT)


@router.get(
    "/open-data/requests.csv",
    response_class=StreamingResponse,
    responses={**_file("Anonymised CSV for publication, streamed", CSV_CONTENT, _OPEN_CSV_EXAMPLE), **_ERRORS},
)
async def open_data_csv(session: SessionDep, principal: CurrentPrincipal, filters: Filters) -> StreamingResponse:
    """An anonymised file for publication (公开数据): no person, no staff, no id or tracking number, no free
    text; the day instead of the time; the units down to the grid; a point only as the centre of its
    0.01° cell. Anonymous (保密) requests and key-group categories are left out, as on Open311."""
    export = await exports.prepare(session, principal, filters.to_service(), kind="open_data", format="csv")
    return _stream(export, "text/csv; charset=utf-8")


@router.get(
    "/open-data/requests.geojson",
    response_class=StreamingResponse,
    responses={**_file("Anonymised GeoJSON for publication, streamed", GEOJSON_CONTENT, _GEOJSON_EXAMPLE), **_ERRORS},
)
async def open_data_geojson(session: SessionDep, principal: CurrentPrincipal, filters: Filters) -> StreamingResponse:
    """The open-data file as a GeoJSON FeatureCollection: each feature at the centre of its cell."""
    export = await exports.prepare(session, principal, filters.to_service(), kind="open_data", format="geojson")
    return _stream(export, GEOJSON_CONTENT)
