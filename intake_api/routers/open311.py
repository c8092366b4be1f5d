"""Open311 GeoReport v2 at `/open311/v2`: discovery, services, requests, tokens, and FixMyStreet's updates.

Every path ends in `.json` or `.xml`; errors are the specification's error array in that format.
"""

import urllib.parse
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from services.open311 import service
from services.open311.mapping import error_entries, read_submission
from services.open311.render import Format, render
from services.open311.schemas import (
    Created,
    Discovery,
    Open311Error,
    RequestUpdate,
    Service,
    ServiceDefinition,
    ServiceRequest,
    Token,
)
from shared.deps import SessionDep
from shared.errors import InvalidInput, field_error
from shared.web.errors import ErrorAnswer

router = APIRouter(prefix="/open311/v2", tags=["open311"])

MAX_FORM_FIELDS = 500
FormatParam = Annotated[Literal["json", "xml"], Path(description="The answer's format: `json` or `xml`")]
Jurisdiction = Annotated[
    str | None, Query(max_length=100, description="Optional; when given it must be the city's code (else 404)")
]
DateParam = Annotated[
    str | None,
    Query(max_length=40, description="ISO 8601 with offset, e.g. `2026-11-26T08:00:00+08:00`", examples=["2026-11-01"]),
]
_XML = {"text/xml": {"schema": {"type": "string", "description": "The same document in the specification's XML"}}}
_ERROR_TEXT = {
    400: "Bad input; the error array names each parameter",
    403: "api_key missing, invalid, revoked, or without the right or channel",
    404: "Unknown service, request, jurisdiction or format",
}
_FIELD = {"type": "string"}
FORM_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "required": ["api_key", "service_code"],
                "properties": {
                    "api_key": {**_FIELD, "description": "Your integration's key (requests:create; web or app)"},
                    "service_code": {**_FIELD, "examples": ["env.noise"]},
                    "lat": {"type": "number", "minimum": -90, "maximum": 90, "description": "WGS84"},
                    "long": {"type": "number", "minimum": -180, "maximum": 180, "description": "WGS84"},
                    "address_string": {**_FIELD, "maxLength": 500},
                    "address_id": {**_FIELD, "description": "A community or grid code"},
                    "description": {**_FIELD, "maxLength": 4000},
                    "first_name": _FIELD,
                    "last_name": _FIELD,
                    "phone": _FIELD,
                    "email": {**_FIELD, "description": "Accepted and dropped: Minqing keeps no e-mail"},
                    "device_id": {**_FIELD, "description": "Accepted and ignored"},
                    "account_id": {**_FIELD, "description": "Echoed in the answer, not kept"},
                    "media_url": {**_FIELD, "format": "uri"},
                    "jurisdiction_id": {**_FIELD, "description": "Optional; the city's code"},
                },
                "additionalProperties": {**_FIELD, "description": "`attribute[code]` or `attribute[code][]` answers"},
            }
        }
    },
}


def _responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    answers: dict[int | str, dict[str, Any]] = {200: {"content": _XML}}
    for code in codes:
        answers[code] = {"model": list[Open311Error], "description": _ERROR_TEXT[code], "content": _XML}
    return answers


def _answer(kind: str, data: BaseModel | list[Any], fmt: Format) -> Response:
    body, media_type = render(kind, data, fmt)
    return Response(body, media_type=media_type)


def render_error(request: Request, answer: ErrorAnswer) -> Response:
    """Errors under /open311: the specification's error array, as JSON or XML after the path's suffix."""
    fmt: Format = "xml" if request.url.path.endswith(".xml") else "json"
    status, entries = error_entries(answer.status, answer.detail, answer.errors)
    body, media_type = render("errors", entries, fmt)
    headers = {k: v for k, v in answer.headers.items() if k.lower() != "www-authenticate"}
    return Response(body, status_code=status, media_type=media_type, headers=headers)


async def _form_pairs(request: Request) -> list[tuple[str, str]]:
    """The POSTed form's pairs: URL-encoded UTF-8 strictly (a bad byte is a 400), or multipart fields."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        form = await request.form(max_fields=MAX_FORM_FIELDS)
        if any(not isinstance(value, str) for _, value in form.multi_items()):
            raise InvalidInput("Files are not accepted", errors=[field_error(["body"], "send media_url, not a file")])
        return [(key, value) for key, value in form.multi_items() if isinstance(value, str)]
    if content_type not in ("", "application/x-www-form-urlencoded"):
        raise InvalidInput(
            "Send the form as application/x-www-form-urlencoded",
            errors=[field_error(["body"], "the body must be application/x-www-form-urlencoded")],
        )
    try:
        text = (await request.body()).decode("utf-8")
        return urllib.parse.parse_qsl(
            text, keep_blank_values=True, encoding="utf-8", errors="strict", max_num_fields=MAX_FORM_FIELDS
        )
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput(
            "The form is not valid UTF-8 application/x-www-form-urlencoded",
            errors=[field_error(["body"], f"not valid UTF-8 form data (at most {MAX_FORM_FIELDS} fields)")],
        ) from None


@router.get("/discovery.{format}", response_model=Discovery, responses=_responses(400, 404))
async def discovery(request: Request, format: FormatParam) -> Response:
    """Where this Open311 endpoint is, what it speaks, and how to get a key."""
    return _answer("discovery", service.discovery(str(request.base_url)), format)


@router.get("/services.{format}", response_model=list[Service], responses=_responses(400, 404))
async def list_services(session: SessionDep, format: FormatParam, jurisdiction_id: Jurisdiction = None) -> Response:
    """The service catalog: one service per active category, grouped by the parent category."""
    await service.check_jurisdiction(session, jurisdiction_id)
    return _answer("services", await service.services(session), format)


@router.get("/services/{service_code}.{format}", response_model=ServiceDefinition, responses=_responses(400, 404))
async def service_definition(
    session: SessionDep,
    service_code: Annotated[
        str, Path(max_length=100, description="A service code from services.json", examples=["env.noise"])
    ],
    format: FormatParam,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    """A service's definition: the attributes a request for it may or must answer."""
    await service.check_jurisdiction(session, jurisdiction_id)
    return _answer("service_definition", await service.service_definition(session, service_code), format)


@router.post(
    "/requests.{format}",
    response_model=list[Created],
    responses=_responses(400, 403, 404),
    openapi_extra={"requestBody": FORM_BODY},
)
async def create_request(request: Request, session: SessionDep, format: FormatParam) -> Response:
    """Submit a request (form-urlencoded, with api_key); answers its service_request_id and tracking number."""
    submission = read_submission(await _form_pairs(request))
    return _answer("service_requests", [await service.submit(session, submission)], format)


@router.get("/requests.{format}", response_model=list[ServiceRequest], responses=_responses(400, 404))
async def list_requests(
    request: Request,
    session: SessionDep,
    format: FormatParam,
    service_request_id: Annotated[
        str | None,
        Query(
            max_length=4000,
            description="Request ids, comma delimited (at most 1000); overrides the other filters. Values that"
            " cannot be a request id (not a positive integer in range) match nothing, like unknown ids",
            examples=["1024,1025"],
        ),
    ] = None,
    service_code: Annotated[
        str | None, Query(max_length=500, description="Service codes, comma delimited", examples=["env.noise"])
    ] = None,
    start_date: DateParam = None,
    end_date: DateParam = None,
    status: Annotated[str | None, Query(max_length=20, description="`open`, `closed` or `open,closed`")] = None,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    """Public requests (privacy-safe), newest first, at most 1000, by default from the last 90 days."""
    await service.check_jurisdiction(session, jurisdiction_id)
    found = await service.find_requests(
        session,
        service_request_id=service_request_id,
        service_code=service_code,
        start_date=start_date,
        end_date=end_date,
        status=status,
        base_url=str(request.base_url),
    )
    return _answer("service_requests", found, format)


@router.get(
    "/requests/{service_request_id}.{format}", response_model=list[ServiceRequest], responses=_responses(400, 404)
)
async def get_request(
    request: Request,
    session: SessionDep,
    service_request_id: Annotated[
        str, Path(max_length=100, description="The id answered at submission", examples=["1024"])
    ],
    format: FormatParam,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    """One public request; anonymous and key-group requests answer 404 like unknown ones."""
    await service.check_jurisdiction(session, jurisdiction_id)
    found = await service.get_request(session, service_request_id, base_url=str(request.base_url))
    return _answer("service_requests", [found], format)


@router.get("/tokens/{token}.{format}", response_model=list[Token], responses=_responses(400, 404))
async def get_token(
    session: SessionDep,
    token: Annotated[str, Path(max_length=100, description="A token; requests are created at once, so it is the id")],
    format: FormatParam,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    """The service_request_id behind a token (the same value: submission answers synchronously)."""
    await service.check_jurisdiction(session, jurisdiction_id)
    return _answer("service_requests", [await service.token(session, token)], format)


@router.get("/servicerequestupdates.{format}", response_model=list[RequestUpdate], responses=_responses(400, 404))
async def list_updates(
    session: SessionDep,
    format: FormatParam,
    start_date: DateParam = None,
    end_date: DateParam = None,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    """FixMyStreet's extension: status changes of public requests in the range, oldest first, at most 1000."""
    await service.check_jurisdiction(session, jurisdiction_id)
    return _answer("updates", await service.updates(session, start_date=start_date, end_date=end_date), format)
