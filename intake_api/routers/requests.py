"""The native request API: create from any channel, list and read in scope, the audit trail."""

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response

from intake_api.deps import CurrentPrincipal
from services.intake import service
from services.intake.schemas import Channel, EventsOut, RequestCreate, RequestCreated, RequestOut, SlaState, Status
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


@router.get("/requests", response_model=Page[RequestOut], responses=problem_responses(401, 403, 404, 422))
async def list_requests(
    session: SessionDep,
    principal: CurrentPrincipal,
    status: Status | None = None,
    channel: Channel | None = None,
    category: Annotated[str | None, Query(max_length=64, description="A category code or prefix")] = None,
    org_unit_code: Annotated[str | None, Query(max_length=32, description="Only this unit's subtree")] = None,
    lead_team_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    lead_department_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    handler_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    received_from: Annotated[
        CityDateTime | None,
        Query(description=f"Received at or after this time. {CITY_TIME_NOTE}", examples=["2026-12-03T18:00:00"]),
    ] = None,
    received_to: Annotated[
        CityDateTime | None,
        Query(description=f"Received at or before this time. {CITY_TIME_NOTE}", examples=["2026-12-03T18:00:00+08:00"]),
    ] = None,
    sla_state: SlaState | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[RequestOut]:
    """List requests in your scope (integrations: the ones they submitted), newest first."""
    filters = service.RequestFilters(
        status=status,
        channel=channel,
        category=category,
        org_unit_code=org_unit_code,
        lead_team_id=lead_team_id,
        lead_department_id=lead_department_id,
        handler_id=handler_id,
        received_from=received_from,
        received_to=received_to,
        sla_state=sla_state,
    )
    return await service.list_requests(session, principal, filters, cursor, limit)


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
