"""The native request API: create from any channel, list and read in scope, the audit trail."""

from dataclasses import asdict, dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response

from intake_api.deps import CurrentPrincipal
from services.intake import service
from services.intake.schemas import (
    Channel,
    DuplicateCheckOut,
    EventsOut,
    RequestCounts,
    RequestCreate,
    RequestCreated,
    RequestOut,
    SlaState,
    Status,
)
from shared.deps import SessionDep
from shared.pagination import Page
from shared.params import DEFAULT_LIMIT, Cursor, Limit
from shared.schemas import CITY_TIME_NOTE, CityDateTime
from shared.web.errors import problem_responses

router = APIRouter(prefix="/v1", tags=["requests"])
RequestId = Annotated[int, Path(ge=1, le=2**62, description="The request id")]
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Repeat-safe submission: the same key and body return the first answer (kept 24 h)",
    ),
]


@router.post(
    "/requests",
    status_code=201,
    response_model=RequestCreated,
    responses={
        **problem_responses(401, 403, 409, 413, 422),
        201: {
            "description": "Created and committed; `Location` points at the request",
            # OpenAPI links: what a client (and schemathesis' stateful tests) can call next with this answer.
            "links": {
                "GetRequest": {
                    "operationId": "get_request_v1_requests__request_id__get",
                    "parameters": {"request_id": "$response.body#/id"},
                },
                "GetRequestEvents": {
                    "operationId": "request_events_v1_requests__request_id__events_get",
                    "parameters": {"request_id": "$response.body#/id"},
                },
                "TrackRequest": {
                    "operationId": "track_request_v1_track__tracking_no__get",
                    "parameters": {
                        "tracking_no": "$response.body#/tracking_no",
                        "citizen_token": "$response.body#/citizen_token",
                    },
                },
            },
        },
    },
)
async def create_request(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: CurrentPrincipal,
    body: RequestCreate,
    idempotency_key: IdempotencyKeyHeader = None,
) -> RequestCreated:
    """Receive a request from any channel (hotline, app, web, window, station, visit)."""
    # The raw body is compared only for Idempotency-Key repeats; don't parse it twice otherwise.
    raw: Any = await request.json() if idempotency_key is not None else None
    result = await service.create_request(session, principal, body, idempotency_key=idempotency_key, raw_body=raw)
    created = result.request
    created.links = {
        "self": request.app.url_path_for("get_request", request_id=str(created.id)),
        "events": request.app.url_path_for("request_events", request_id=str(created.id)),
        "track": request.app.url_path_for("track_request", tracking_no=created.tracking_no),
    }
    response.status_code = result.status_code
    response.headers["Location"] = created.links["self"]
    return created


@router.post(
    "/requests/duplicate-check",
    response_model=DuplicateCheckOut,
    responses=problem_responses(401, 403, 413, 422, 429),
)
async def check_duplicates(session: SessionDep, principal: CurrentPrincipal, body: RequestCreate) -> DuplicateCheckOut:
    """Before submitting: the open requests in your scope that this body would duplicate under the duplicate
    rules in force (same category nearby, same unit and similar text, or same phone and near-identical text),
    and the one `POST /v1/requests` would link it to. Nothing is created; the same body and rights as
    `POST /v1/requests` (a window clerk's or call-taker's warning to the citizen)."""
    return await service.check_duplicates(session, principal, body)


@dataclass
class ListFilters:
    """The filters `GET /v1/requests` and `GET /v1/requests/counts` share (query parameters)."""

    status: Status | None = None
    channel: Channel | None = None
    category: Annotated[str | None, Query(max_length=64, description="A category code or prefix")] = None
    org_unit_code: Annotated[str | None, Query(max_length=32, description="Only this unit's subtree")] = None
    lead_team_id: Annotated[int | None, Query(ge=1, le=2**62)] = None
    lead_department_id: Annotated[int | None, Query(ge=1, le=2**62)] = None
    handler_id: Annotated[int | None, Query(ge=1, le=2**62)] = None
    received_from: Annotated[
        CityDateTime | None,
        Query(description=f"Received at or after this time. {CITY_TIME_NOTE}", examples=["2026-12-03T18:00:00"]),
    ] = None
    received_to: Annotated[
        CityDateTime | None,
        Query(description=f"Received at or before this time. {CITY_TIME_NOTE}", examples=["2026-12-03T18:00:00+08:00"]),
    ] = None
    sla_state: SlaState | None = None
    queue: Annotated[
        Literal["co_units", "my_units"] | None,
        Query(
            description="Staff work queues. `my_units`: the requests your grid team or department leads that no"
            " member has claimed yet (claim one with `accept`); `co_units`: joint requests where your team or"
            " department has a co-unit task still open (assigned or accepted): your 会办 to-do list"
        ),
    ] = None
    assigned_to: Annotated[Literal["me"] | None, Query(description="`me`: the requests you handle (staff)")] = None

    def to_service(self) -> service.RequestFilters:
        return service.RequestFilters(**asdict(self))


Filters = Annotated[ListFilters, Depends()]


@router.get("/requests", response_model=Page[RequestOut], responses=problem_responses(401, 403, 404, 422))
async def list_requests(
    session: SessionDep,
    principal: CurrentPrincipal,
    filters: Filters,
    sort: Annotated[
        Literal["-received", "received", "due"],
        Query(
            description="`-received`: newest first (the default); `received`: oldest first; `due`: the nearest"
            " deadline first (the response deadline until accepted, then the resolution deadline)"
        ),
    ] = "-received",
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[RequestOut]:
    """List requests in your scope (integrations: the ones they submitted). Staff also see the joint requests
    their team or department works on as a co-unit; `assigned_to=me` and `queue=my_units` are the handler's
    two work queues."""
    return await service.list_requests(session, principal, filters.to_service(), cursor, limit, sort=sort)


@router.get("/requests/counts", response_model=RequestCounts, responses=problem_responses(401, 403, 404, 422))
async def count_requests(session: SessionDep, principal: CurrentPrincipal, filters: Filters) -> RequestCounts:
    """How many requests the same filters as `GET /v1/requests` match: in all, per status and per SLA
    standing (黄牌 warning, 红牌 overdue), for a queue's tabs and badges."""
    return await service.count_requests(session, principal, filters.to_service())


@router.get("/requests/{request_id}", response_model=RequestOut, responses=problem_responses(401, 403, 404, 422))
async def get_request(
    session: SessionDep,
    principal: CurrentPrincipal,
    request_id: RequestId,
    reveal_pii: Annotated[
        bool, Query(description="Show the citizen's name and phone in clear (handler or dispatcher; audited)")
    ] = False,
) -> RequestOut:
    """Read one request; names and phones are masked unless revealed by someone with need."""
    found = await service.get_request(session, principal, request_id)
    return await service.request_out(session, principal, found, reveal_pii=reveal_pii)


@router.get("/requests/{request_id}/events", response_model=EventsOut, responses=problem_responses(401, 404, 422))
async def request_events(session: SessionDep, principal: CurrentPrincipal, request_id: RequestId) -> EventsOut:
    """The request's append-only audit trail, with a check of its hash chain."""
    return await service.request_events(session, principal, request_id)
