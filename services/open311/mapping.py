"""Pure translations between Minqing and Open311 GeoReport v2: statuses, catalog, requests, form input."""

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from services.intake.schemas import AttributeValue as Answer
from services.models import Category, Request, RequestEvent
from services.open311.privacy import redact, redact_optional
from services.open311.schemas import (
    Attribute,
    AttributeValue,
    Discovery,
    Endpoint,
    PublicStatus,
    RequestUpdate,
    Service,
    ServiceDefinition,
    ServiceRequest,
)
from services.org.schemas import CATEGORY_CODE_RE
from shared.errors import InvalidInput, field_error

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# When this interface last changed (discovery's `changeset`).
CHANGESET = datetime.fromisoformat("2026-11-26T00:00:00+08:00")
CONTACT = "Minqing (民情) citizen request platform, run by the city; interactive API documentation at /docs"
KEY_SERVICE = (
    "API keys are issued by the city's administrators (POST /v1/admin/api-keys); "
    "submitting needs the requests:create right and the web or app channel"
)
CLOSED = frozenset({"resolved", "closed"})
OUTCOME_LABELS = {"resolved": "已解决", "explained": "已解释说明", "unresolvable": "暂无法解决"}
MAX_SPAN = timedelta(days=90)
MAX_RESULTS = 1000
MAX_IDS = 1000
MAX_REQUEST_ID = 2**63 - 1  # request ids are a PostgreSQL bigint
MAX_ID_DIGITS = len(str(MAX_REQUEST_ID))
# The `unknown` category is the hotline's "to be classified"; other channels may not file it.
HIDDEN_SERVICES = frozenset({"unknown"})
FORM_FIELDS = frozenset(
    {
        "api_key",
        "jurisdiction_id",
        "service_code",
        "lat",
        "long",
        "address_string",
        "address_id",
        "email",
        "device_id",
        "account_id",
        "first_name",
        "last_name",
        "phone",
        "description",
        "media_url",
    }
)
_ATTRIBUTE_KEY = re.compile(r"attribute\[([^\[\]]{1,64})\](?:\[\])?")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CATEGORY_CODE = re.compile(CATEGORY_CODE_RE)
# Intake's field paths, as Open311 callers name them.
_LOCATION_FIELDS = {"lat": "lat", "lon": "long", "address": "address_string", "org_unit_code": "address_id"}
_CITIZEN_FIELDS = {"name": "first_name/last_name", "phone": "phone"}
_PARAMETER_PLACES = frozenset({"body", "query", "path", "header", "form", "cookie"})


def public_status(status: str) -> PublicStatus:
    """`resolved` and `closed` are `closed`; every other state is `open`."""
    return "closed" if status in CLOSED else "open"


def is_service_code(code: str) -> bool:
    return _CATEGORY_CODE.fullmatch(code) is not None


# ---- catalog ---------------------------------------------------------------------------------


def discovery(base_url: str, *, production: bool) -> Discovery:
    return Discovery(
        changeset=CHANGESET,
        contact=CONTACT,
        key_service=KEY_SERVICE,
        endpoints=[
            Endpoint(
                specification=SPECIFICATION,
                url=base_url.rstrip("/") + "/open311/v2",
                changeset=CHANGESET,
                type="production" if production else "test",
                formats=["application/json", "text/xml"],
            )
        ],
    )


def service(category: Category, group: str | None) -> Service:
    keywords = ", ".join(dict.fromkeys(k for k in (category.name_en, category.code) if k))
    return Service(
        service_code=category.code,
        service_name=category.name,
        description=category.description or category.name,
        metadata=bool(category.attributes),
        type="realtime",
        keywords=keywords,
        group=group,
    )


def service_definition(category: Category) -> ServiceDefinition:
    definitions = sorted(category.attributes, key=lambda a: (int(a.get("order", 0)), str(a.get("code"))))
    return ServiceDefinition(
        service_code=category.code,
        attributes=[
            Attribute(
                variable=bool(a.get("variable", True)),
                code=a["code"],
                datatype=a["datatype"],
                required=bool(a.get("required", False)),
                datatype_description=a.get("datatype_description"),
                order=int(a.get("order", 0)),
                description=a.get("description") or a["code"],
                values=[AttributeValue(key=v["key"], name=v["name"]) for v in a.get("values") or []],
            )
            for a in definitions
        ],
    )


# ---- requests, as the public sees them --------------------------------------------------------


def status_notes(request: Request, latest_public_note: str | None) -> str | None:
    """The latest public note (for a closed request its public reply, after the outcome); redacted."""
    closed = public_status(request.status) == "closed"
    note = (request.public_reply if closed else None) or latest_public_note
    if not note:
        return None
    label = OUTCOME_LABELS.get(request.outcome or "") if closed else None
    return redact(f"{label}：{note}" if label else note)


def agency_responsible(request: Request, teams: dict[int, str], departments: dict[int, str]) -> str | None:
    """The lead handling unit's name: its grid team or its department."""
    if request.lead_team_id is not None and request.lead_team_id in teams:
        return teams[request.lead_team_id]
    if request.lead_department_id is not None and request.lead_department_id in departments:
        return departments[request.lead_department_id]
    return None


def service_request(
    request: Request,
    *,
    service_name: str,
    agency: str | None,
    unit_code: str | None,
    latest_public_note: str | None,
    media_url: str | None = None,
) -> ServiceRequest:
    """The public view: no citizen fields at all, and numbers typed into text redacted. `media_url`: the
    public copy of an attached photo, which wins over the link the client sent."""
    return ServiceRequest(
        service_request_id=str(request.id),
        status=public_status(request.status),
        status_notes=status_notes(request, latest_public_note),
        service_name=service_name,
        service_code=request.category_code,
        description=redact(request.description),
        agency_responsible=agency,
        service_notice=None,
        requested_datetime=request.received_at,
        updated_datetime=request.updated_at,
        expected_datetime=request.resolve_by,
        address=redact_optional(request.address),
        address_id=unit_code,
        zipcode=None,
        lat=request.lat,
        long=request.lon,
        media_url=media_url or (request.media_urls[0] if request.media_urls else None),
    )


def request_update(event: RequestEvent) -> RequestUpdate:
    """One status change; its note and media only when the event is public."""
    media = event.data.get("media_urls") if event.public else None
    return RequestUpdate(
        update_id=str(event.id),
        service_request_id=str(event.request_id),
        status=public_status(event.to_status or ""),
        updated_datetime=event.occurred_at,
        description=redact(event.note) if event.public and event.note else "",
        media_url=media[0] if isinstance(media, list) and media and isinstance(media[0], str) else None,
    )


def service_notice(tracking_no: str, *, duplicate: bool = False, phone_dropped: bool = False) -> str:
    notice = f"受理编号 {tracking_no}"
    if duplicate:
        # The earlier request's tracking number is another citizen's: not shown.
        notice += "；与先前的同类诉求合并办理"
    if phone_dropped:
        notice += "；电话号码无法识别，未记录"
    return notice


# ---- query parameters ------------------------------------------------------------------------


def parse_when(value: str | None, name: str, tz: tzinfo) -> datetime | None:
    """An ISO 8601 date-time (`2026-11-26T08:00:00+08:00`, `…Z`, or a date); local time when no offset."""
    if value is None or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(
            f"{name} is not an ISO 8601 date-time",
            errors=[field_error(name, "not an ISO 8601 date-time such as 2026-11-26T08:00:00+08:00")],
        ) from None
    if not 1900 <= parsed.year <= 9000:
        raise InvalidInput(f"{name} is out of range", errors=[field_error(name, "out of range")])
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)


def date_window(start: datetime | None, end: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    """The searched range: the last 90 days by default, never more than 90 days."""
    if start is None and end is None:
        return now - MAX_SPAN, now
    if start is None:
        assert end is not None
        return end - MAX_SPAN, end
    if end is None:
        return start, start + MAX_SPAN
    if end < start:
        raise InvalidInput("end_date is before start_date", errors=[field_error("end_date", "before start_date")])
    if end - start > MAX_SPAN:
        raise InvalidInput(
            "The date range may not span more than 90 days",
            errors=[field_error("end_date", "the range from start_date may not span more than 90 days")],
        )
    return start, end


def parse_ids(value: str) -> list[int] | None:
    """`service_request_id`: request ids, comma delimited (at most MAX_IDS entries).

    What cannot be a request id (not a positive integer within the id column's range: `abc`, `-1`,
    `1.5`, 99999999999999999999) matches nothing and is left out, like an id that does not exist.
    Answers the distinct ids in the order given (possibly none), or None when the value lists
    nothing at all (blank: no filter).
    """
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if not parts:
        return None
    if len(parts) > MAX_IDS:
        raise InvalidInput(
            "Too many service_request_id values",
            errors=[field_error("service_request_id", f"at most {MAX_IDS} ids")],
        )
    ids: dict[int, None] = {}
    for part in parts:
        request_id = parse_request_id(part)
        if request_id is not None:
            ids[request_id] = None
    return list(ids)


def parse_service_codes(value: str) -> list[str]:
    """`service_code`: codes, comma delimited; what cannot be a code matches nothing."""
    return [c for c in (p.strip() for p in value.split(",")) if is_service_code(c)]


def parse_statuses(value: str) -> set[PublicStatus]:
    statuses: set[PublicStatus] = set()
    for part in (p.strip() for p in value.split(",")):
        if part == "open":
            statuses.add("open")
        elif part == "closed":
            statuses.add("closed")
        elif part:
            raise InvalidInput("status is open or closed", errors=[field_error("status", "must be open or closed")])
    return statuses


def parse_request_id(value: str) -> int | None:
    """A request id (a positive `bigint`) from its digits; None when it cannot be one (the caller
    answers 404, or a list leaves it out)."""
    if not (value.isascii() and value.isdigit()) or len(value.lstrip("0")) > MAX_ID_DIGITS:
        return None
    request_id = int(value)
    return request_id if 1 <= request_id <= MAX_REQUEST_ID else None


# ---- submission ------------------------------------------------------------------------------


@dataclass(slots=True)
class Submission:
    """A POSTed form: the specification's fields (blank ones left out) and `attribute[code]` answers."""

    fields: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, list[str]] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        return self.fields.get(name)


def read_submission(pairs: Iterable[tuple[str, str]]) -> Submission:
    """Sort a form's pairs; `attribute[code]` and `attribute[code][]` both collect under `code`."""
    submission = Submission()
    for key, value in pairs:
        match = _ATTRIBUTE_KEY.fullmatch(key)
        if match:
            submission.attributes.setdefault(match.group(1), []).append(value)
        elif key in FORM_FIELDS and value.strip():
            submission.fields[key] = value.strip() if key != "description" else value
    return submission


def open311_channel(channels: Iterable[str]) -> str | None:
    """Open311 submissions come in on `web`, or on `app` when the key allows only that."""
    allowed = set(channels)
    if "web" in allowed:
        return "web"
    return "app" if "app" in allowed else None


def citizen_name(first: str | None, last: str | None) -> str | None:
    """`张` + `三` gives `张三` (family name first); `Jane` + `Doe` gives `Jane Doe`."""
    parts = [p for p in (last, first) if p]
    if not parts:
        return None
    if all(p.isascii() for p in parts):
        return " ".join(reversed(parts))
    return "".join(parts)


def parse_coordinate(value: str, name: str, limit: float) -> float:
    try:
        number = float(value) if len(value) <= 40 else math.nan
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or not -limit <= number <= limit:
        raise InvalidInput(
            f"{name} is not a WGS84 coordinate",
            errors=[field_error(name, f"must be a number between -{limit:g} and {limit:g} (WGS84)")],
        )
    return number


def coerce_attributes(
    definitions: Sequence[dict[str, Any]], given: dict[str, list[str]]
) -> tuple[dict[str, Answer], list[dict[str, Any]]]:
    """Answers typed by the service definition, and field errors.

    Attributes the service does not define are left out: Open311 front ends send extra ones.
    Blank answers are no answers (a required attribute then fails in intake's check).
    """
    by_code = {d["code"]: d for d in definitions}
    answers: dict[str, Answer] = {}
    errors: list[dict[str, Any]] = []
    for code, raw in given.items():
        definition = by_code.get(code)
        if definition is None:
            continue
        name = f"attribute[{code}]"
        values = [v for v in raw if v.strip()]
        if not values:
            continue
        if any(_CONTROL.search(v) for v in values):
            errors.append(field_error([name], "control characters are not allowed"))
        elif definition.get("datatype") == "multivaluelist":
            answers[code] = values
        elif len(values) > 1:
            errors.append(field_error([name], "takes one value"))
        elif definition.get("datatype") == "number":
            answers[code] = _number(values[0])
        else:
            answers[code] = values[0]
    return answers, errors


def _number(value: str) -> str | float:
    try:
        number = float(value) if len(value) <= 40 else math.nan
    except ValueError:
        return value  # intake's check names the problem
    return number if math.isfinite(number) else value


def has_control_characters(value: str) -> bool:
    return _CONTROL.search(value) is not None


# ---- errors ----------------------------------------------------------------------------------


def open311_field(loc: Sequence[str | int]) -> str:
    """Intake's field path (`location.lon`, `attributes.x`) as an Open311 parameter name (`long`, `attribute[x]`)."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in _PARAMETER_PLACES:
        parts = parts[1:]
    if not parts:
        return "body"
    head, rest = parts[0], parts[1:]
    if head == "category":
        return "service_code"
    if head == "location":
        return _LOCATION_FIELDS.get(rest[0], "lat/long") if rest else "lat/long"
    if head == "citizen" and rest:
        return _CITIZEN_FIELDS.get(rest[0], rest[0])
    if head == "media_urls":
        return "media_url"
    if head == "attributes" and rest:
        return f"attribute[{rest[0]}]"
    return ".".join(parts)


def error_entries(status: int, detail: str, errors: Sequence[dict[str, Any]]) -> tuple[int, list[dict[str, Any]]]:
    """The HTTP status and the specification's error array for an error.

    Validation errors are 400 (not 422), a missing or bad key 403, an unknown format suffix 404.
    """
    if status == 422 and any(list(e.get("loc", ())) == ["path", "format"] for e in errors):
        return 404, [{"code": 404, "description": "Unknown format: use .json or .xml"}]
    code = {422: 400, 401: 403}.get(status, status)
    if not errors:
        return code, [{"code": code, "description": detail}]
    entries = []
    for error in errors[:20]:
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        entries.append({"code": code, "description": f"{open311_field(error.get('loc') or ['body'])}: {message}"})
    return code, entries
