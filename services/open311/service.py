"""Open311 GeoReport v2 over Minqing: the catalog, submission through intake, and the public view.

A request submitted here is created by `services.intake.service.create_request`, so it is the
same request as one made through `/v1`. The public reads never show citizens' names, phones or
e-mails, leave out anonymous requests and key-group categories, and redact numbers in text.
"""

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.attachments import service as attachments
from services.identity.service import api_key_principal
from services.intake import service as intake
from services.intake.phones import normalise_phone
from services.intake.schemas import RequestCreate
from services.models import Category, Request
from services.open311 import mapping
from services.open311 import repository as repo
from services.open311.errors import ApiKeyRefused, JurisdictionNotFound, ServiceNotFound, ServiceRequestNotFound
from services.open311.mapping import MAX_RESULTS, Submission
from services.open311.schemas import (
    Created,
    Discovery,
    RequestUpdate,
    Service,
    ServiceDefinition,
    ServiceRequest,
    Token,
)
from shared.auth import Principal
from shared.errors import InvalidInput, NotAuthenticated, field_error
from shared.settings import get_settings

MAX_API_KEY_LENGTH = 200
MIN_PHONE, MAX_PHONE = 5, 32  # intake's Citizen.phone bounds
# Never kept, not even for the idempotency record: Minqing has no e-mail field, and the key is a secret.
NOT_KEPT = frozenset({"api_key", "email"})


def _local_zone() -> ZoneInfo:
    return ZoneInfo(get_settings().timezone)


async def check_jurisdiction(session: AsyncSession, jurisdiction_id: str | None) -> None:
    """`jurisdiction_id` is accepted when it names this city (its org-unit code); anything else is a 404."""
    if jurisdiction_id is None or not jurisdiction_id.strip():
        return
    city = await repo.city_code(session)
    if jurisdiction_id.strip() != city:
        raise JurisdictionNotFound(f"Unknown jurisdiction_id; this endpoint serves the jurisdiction {city!r}")


# ---- catalog ---------------------------------------------------------------------------------


def discovery(base_url: str) -> Discovery:
    return mapping.discovery(base_url, production=get_settings().env == "production")


async def services(session: AsyncSession) -> list[Service]:
    categories = await repo.services(session)
    parents = {c.parent_code for c in categories if c.parent_code}
    names = await repo.category_names(session, parents)
    return [mapping.service(c, names.get(c.parent_code) if c.parent_code else None) for c in categories]


async def service_definition(session: AsyncSession, code: str) -> ServiceDefinition:
    """The service's attributes; a service without any has no definition (404, as the specification says)."""
    category = await repo.service(session, code) if mapping.is_service_code(code) else None
    if category is None:
        raise ServiceNotFound(f"No service {code[:64]!r}")
    if not category.attributes:
        raise ServiceNotFound(f"The service {code!r} has no attributes (its metadata is false)")
    return mapping.service_definition(category)


# ---- submission ------------------------------------------------------------------------------


async def _submitter(session: AsyncSession, key: str | None) -> tuple[Principal, str]:
    if key is None:
        raise ApiKeyRefused("api_key is required to submit a request")
    if len(key) > MAX_API_KEY_LENGTH or mapping.has_control_characters(key):
        raise ApiKeyRefused("Invalid api_key")
    try:
        principal = await api_key_principal(session, key)
    except NotAuthenticated:
        raise ApiKeyRefused("Invalid or revoked api_key") from None
    if "requests:create" not in principal.rights:
        raise ApiKeyRefused("This api_key may not submit requests")
    channel = mapping.open311_channel(principal.channels)
    if channel is None:
        raise ApiKeyRefused("This api_key may not submit requests on the web or app channel")
    return principal, channel


def _location(submission: Submission, errors: list[dict[str, Any]]) -> dict[str, Any]:
    lat, lon = submission.get("lat"), submission.get("long")
    location: dict[str, Any] = {}
    if (lat is None) != (lon is None):
        errors.append(field_error(["lat/long"], "send both lat and long"))
    elif lat is not None and lon is not None:
        try:
            location["lat"] = mapping.parse_coordinate(lat, "lat", 90)
        except InvalidInput as exc:
            errors.extend(exc.errors)
        try:
            location["lon"] = mapping.parse_coordinate(lon, "long", 180)
        except InvalidInput as exc:
            errors.extend(exc.errors)
    if submission.get("address_string") is not None:
        location["address"] = submission.get("address_string")
    if submission.get("address_id") is not None:
        location["org_unit_code"] = submission.get("address_id")
    if lat is None and lon is None and not location:
        errors.append(field_error(["lat/long"], "required: send lat and long, address_string or address_id"))
    return location


async def _service_for(session: AsyncSession, code: str | None, errors: list[dict[str, Any]]) -> Category | None:
    if code is None:
        errors.append(field_error(["service_code"], "required"))
        return None
    category = await repo.service(session, code) if mapping.is_service_code(code) else None
    if category is None:
        errors.append(field_error(["service_code"], f"unknown service {code[:64]!r} (see services.json)"))
    return category


def _usable_phone(phone: str | None) -> str | None:
    """The phone if intake can keep it. A front end cannot correct what its user typed, so an
    unusable number is left out (and the answer says so) rather than refusing the whole request."""
    if phone is None or not MIN_PHONE <= len(phone) <= MAX_PHONE:
        return None
    try:
        normalise_phone(phone)
    except ValueError:
        return None
    return phone


async def submit(session: AsyncSession, submission: Submission) -> Created:
    """Create a request from an Open311 form: key first (403), then jurisdiction (404), then fields (400)."""
    principal, channel = await _submitter(session, submission.get("api_key"))
    await check_jurisdiction(session, submission.get("jurisdiction_id"))
    errors: list[dict[str, Any]] = [
        field_error([name], "control characters are not allowed")
        for name, value in submission.fields.items()
        if name not in NOT_KEPT and mapping.has_control_characters(value)
    ]
    category = await _service_for(session, submission.get("service_code"), errors)
    location = _location(submission, errors)
    attributes: dict[str, Any] = {}
    if category is not None:
        attributes, attribute_errors = mapping.coerce_attributes(category.attributes, submission.attributes)
        errors.extend(attribute_errors)
    if errors or category is None:
        raise InvalidInput(f"Invalid input: {errors[0]['field']}: {errors[0]['msg']}", errors=errors)
    description = submission.get("description")
    phone = _usable_phone(submission.get("phone"))
    body: dict[str, Any] = {
        "channel": channel,
        "category": category.code,
        # The specification makes the description optional; Minqing needs one, so the service name stands in.
        "description": description if description and description.strip() else category.name,
        "location": location,
        "citizen": {
            "name": mapping.citizen_name(submission.get("first_name"), submission.get("last_name")),
            "phone": phone,
        },
        "media_urls": [submission.get("media_url")] if submission.get("media_url") else [],
        "attributes": attributes,
    }
    try:
        data = RequestCreate.model_validate(body)
    except ValidationError as exc:
        raise InvalidInput(
            "Invalid input",
            errors=[field_error(list(e["loc"]), e["msg"], e["type"]) for e in exc.errors(include_url=False)],
        ) from None
    raw = {k: v for k, v in submission.fields.items() if k not in NOT_KEPT}
    created = (await intake.create_request(session, principal, data, idempotency_key=None, raw_body=raw)).request
    return Created(
        service_request_id=str(created.id),
        service_notice=mapping.service_notice(
            created.tracking_no,
            duplicate=created.duplicate_of is not None,
            phone_dropped=submission.get("phone") is not None and phone is None,
        ),
        account_id=submission.get("account_id"),
    )


# ---- the public view -------------------------------------------------------------------------


async def _public_views(
    session: AsyncSession, rows: list[tuple[Request, str]], base_url: str | None = None
) -> list[ServiceRequest]:
    requests = [r for r, _ in rows]
    # A photo attached here is shown through its public copy (no metadata); else the link the client sent.
    media = await attachments.public_tokens(session, [r.id for r in requests]) if base_url is not None else {}
    teams, departments = await repo.handling_unit_names(
        session,
        {r.lead_team_id for r in requests if r.lead_team_id is not None},
        {r.lead_department_id for r in requests if r.lead_department_id is not None},
    )
    units = await repo.unit_codes(session, {r.org_unit_id for r in requests if r.org_unit_id is not None})
    notes = await repo.latest_public_notes(session, [r.id for r in requests])
    return [
        mapping.service_request(
            request,
            service_name=name,
            agency=mapping.agency_responsible(request, teams, departments),
            unit_code=units.get(request.org_unit_id) if request.org_unit_id is not None else None,
            latest_public_note=notes.get(request.id),
            media_url=_media_url(base_url, media.get(request.id)),
        )
        for request, name in rows
    ]


def _media_url(base_url: str | None, token: str | None) -> str | None:
    return f"{base_url.rstrip('/')}/open311/v2/media/{token}.jpg" if base_url is not None and token else None


async def public_media(session: AsyncSession, token: str) -> bytes:
    """The public copy behind a `media_url`, while its request is public; else the same 404 as unknown."""
    data = await attachments.public_copy(session, token, is_public=lambda request_id: _is_public(session, request_id))
    if data is None:
        raise ServiceRequestNotFound("No such media")
    return data


async def _is_public(session: AsyncSession, request_id: int) -> bool:
    return await repo.public_request(session, request_id) is not None


async def find_requests(
    session: AsyncSession,
    *,
    service_request_id: str | None,
    service_code: str | None,
    start_date: str | None,
    end_date: str | None,
    status: str | None,
    base_url: str | None = None,
) -> list[ServiceRequest]:
    """Public requests, newest first, at most 1000; `service_request_id` overrides the other filters
    (ids that cannot exist are left out; when none is left the answer is empty)."""
    zone = _local_zone()
    start = mapping.parse_when(start_date, "start_date", zone)
    end = mapping.parse_when(end_date, "end_date", zone)
    statuses = mapping.parse_statuses(status) if status is not None else set()
    ids = mapping.parse_ids(service_request_id) if service_request_id is not None else None
    received_from, received_to = mapping.date_window(start, end, datetime.now(UTC))
    if ids is not None and not ids:
        return []  # only ids that cannot exist were asked for
    rows = await repo.public_requests(
        session,
        ids=ids,
        service_codes=mapping.parse_service_codes(service_code) if service_code is not None else None,
        statuses=statuses,
        received_from=received_from,
        received_to=received_to,
        limit=MAX_RESULTS,
    )
    return await _public_views(session, rows, base_url)


async def _public_row(session: AsyncSession, raw_id: str) -> tuple[Request, str]:
    request_id = mapping.parse_request_id(raw_id)
    row = await repo.public_request(session, request_id) if request_id is not None else None
    if row is None:
        raise ServiceRequestNotFound(f"No service request {raw_id[:20]!r}")
    return row


async def get_request(session: AsyncSession, raw_id: str, base_url: str | None = None) -> ServiceRequest:
    """One public request; unknown, anonymous and key-group requests are all the same 404."""
    return (await _public_views(session, [await _public_row(session, raw_id)], base_url))[0]


async def token(session: AsyncSession, raw_token: str) -> Token:
    """Requests are created synchronously, so a token is the service_request_id itself."""
    request, _ = await _public_row(session, raw_token)
    return Token(service_request_id=str(request.id), token=str(request.id))


async def updates(session: AsyncSession, *, start_date: str | None, end_date: str | None) -> list[RequestUpdate]:
    """FixMyStreet's `servicerequestupdates`: status changes in the range, oldest first, at most 1000."""
    zone = _local_zone()
    start = mapping.parse_when(start_date, "start_date", zone)
    end = mapping.parse_when(end_date, "end_date", zone)
    occurred_from, occurred_to = mapping.date_window(start, end, datetime.now(UTC))
    events = await repo.public_status_changes(session, occurred_from, occurred_to, MAX_RESULTS)
    return [mapping.request_update(e) for e in events]
