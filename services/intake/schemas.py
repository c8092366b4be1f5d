"""Pydantic shapes of the intake API: requests, tracking, visits, assessments."""

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from services.intake.phones import normalise_phone
from services.models.intake import RequestStatus
from services.org.schemas import CATEGORY_CODE_RE, Code
from shared.schemas import CITY_TIME_NOTE, CityDateTime, LocalDateTime, StrictInput

Status = RequestStatus  # the one list of statuses (services/models/intake.py)

Channel = Literal["hotline", "web", "app", "window", "station", "visit"]
Priority = Literal["emergency", "high", "normal"]
CoTaskStatus = Literal["assigned", "accepted", "replied", "waived", "cancelled"]
SlaState = Literal["ok", "warning", "overdue"]
CoordSystem = Literal["wgs84", "gcj02", "bd09"]
AttributeValue = str | float | bool | list[str]
MAX_MEDIA_URLS = 10
_URL = re.compile(r"https?://[^\s/$.?#][^\s]*", re.IGNORECASE)


# Control characters but tab and newlines (NUL above all: PostgreSQL cannot store it).
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _no_control_chars(value: str) -> str:
    if _CONTROL_CHARS.search(value):
        raise ValueError("control characters are not allowed")
    return value


# `shared.schemas.SafeText`, checked with one regex scan instead of a Python loop per character
# (intake validates every request's texts).
SafeText = Annotated[str, AfterValidator(_no_control_chars)]


class Location(StrictInput):
    """Where: coordinates (WGS84, GCJ-02 or BD-09) and/or an address and/or a community or grid code."""

    lat: Annotated[float | None, Field(ge=-90, le=90, allow_inf_nan=False)] = None
    lon: Annotated[float | None, Field(ge=-180, le=180, allow_inf_nan=False)] = None
    coord_system: CoordSystem = "wgs84"
    address: Annotated[SafeText | None, Field(min_length=1, max_length=500)] = None
    org_unit_code: Code | None = None

    @field_validator("address")
    @classmethod
    def _clean_address(cls, value: str | None) -> str | None:
        return None if value is None else _no_control_chars(value)

    @model_validator(mode="after")
    def _something(self) -> "Location":
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon go together")
        if self.lat is None and self.address is None and self.org_unit_code is None:
            raise ValueError("give coordinates, an address or an org_unit_code")
        return self


class Citizen(StrictInput):
    name: Annotated[SafeText | None, Field(min_length=1, max_length=50)] = None
    phone: Annotated[SafeText | None, Field(min_length=5, max_length=32, examples=["13800000000"])] = None
    anonymous: bool = Field(False, description="保密: hide name and phone from everyone but dispatchers")

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return None if value is None else normalise_phone(value)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return None if value is None else _no_control_chars(value.strip()) or None


class RequestCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "channel": "hotline",
                    "category": "env.noise",
                    "description": "小区旁工地夜间施工，噪声很大，影响休息。",
                    "location": {"lat": 29.8734, "lon": 121.5502, "coord_system": "gcj02", "address": "海曙区南门街道"},
                    "citizen": {"name": "张三", "phone": "13800000000", "anonymous": False},
                    "media_urls": ["https://example.org/photo1.jpg"],
                    "external_id": "81890-20261126-0001",
                    "attributes": {"noise_source": "construction"},
                }
            ]
        },
    )

    channel: Channel
    category: Annotated[
        str, Field(max_length=64, pattern=CATEGORY_CODE_RE, description="A category code; `unknown` from the hotline")
    ]
    description: Annotated[SafeText, Field(min_length=1, max_length=4000)]
    location: Location
    citizen: Citizen = Citizen()
    media_urls: Annotated[list[Annotated[SafeText, Field(max_length=2000)]], Field(max_length=MAX_MEDIA_URLS)] = []
    external_id: Annotated[SafeText | None, Field(min_length=1, max_length=100)] = None
    priority: Priority | None = None
    attributes: Annotated[dict[Annotated[SafeText, Field(max_length=64)], AttributeValue], Field(max_length=50)] = {}

    @field_validator("description")
    @classmethod
    def _description(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the description is empty")
        return _no_control_chars(value)

    @field_validator("media_urls")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not _URL.fullmatch(url):
                raise ValueError("media URLs must be http(s) URLs")
            _no_control_chars(url)
        return value

    @field_validator("external_id")
    @classmethod
    def _external_id(cls, value: str | None) -> str | None:
        return None if value is None else _no_control_chars(value)

    @field_validator("attributes")
    @classmethod
    def _attributes(cls, value: dict[str, AttributeValue]) -> dict[str, AttributeValue]:
        for key, answer in value.items():
            _no_control_chars(key)
            for item in answer if isinstance(answer, list) else [answer]:
                if isinstance(item, str):
                    _no_control_chars(item)
        return value


class Due(BaseModel):
    respond_by: LocalDateTime
    resolve_by: LocalDateTime


class RequestRef(BaseModel):
    id: int
    tracking_no: str


class RequestCreated(BaseModel):
    id: int
    tracking_no: str
    status: Status
    category: str
    priority: Priority
    received_at: LocalDateTime
    due: Due
    duplicate_of: RequestRef | None = None
    citizen_token: str = Field(description="Lets the citizen track and give feedback without the phone digits")
    links: dict[str, str]


class DuplicateCandidate(BaseModel):
    """An open request in your scope that a new request like this one would duplicate."""

    id: int
    tracking_no: str
    status: Status
    category: str
    received_at: LocalDateTime
    address: str | None
    org_unit_code: str | None
    description: str = Field(description="The citizen's words on the earlier request")


class DuplicateCheckOut(BaseModel):
    """What `POST /v1/requests` would do with this body about duplicates, without creating anything."""

    duplicate_of: RequestRef | None = Field(
        description="The request intake would link the new one to (the earliest match, or its original)"
    )
    candidates: list[DuplicateCandidate] = Field(
        description="Every open request in your scope it matches, oldest first"
    )


class LocationOut(BaseModel):
    lat: float | None
    lon: float | None
    source_lat: float | None
    source_lon: float | None
    coord_system: CoordSystem | None
    address: str | None
    org_unit_code: str | None


class CitizenOut(BaseModel):
    name: str | None
    phone: str | None
    anonymous: bool
    masked: bool


class DepartmentRef(BaseModel):
    id: int = Field(description="The department's id (`GET /v1/admin/departments`)")
    code: str = Field(description="The department's code")
    name: str = Field(description="The department's name")


class HandlingOut(BaseModel):
    """Who has the request: the lead grid team or lead department, and the handler; names beside ids."""

    lead_team_id: int | None = Field(
        description="The lead grid team's id (`TeamOut.id`; filter `GET /v1/requests?lead_team_id=`)"
    )
    lead_team_name: str | None = Field(description="The lead grid team's name")
    lead_department_id: int | None = Field(
        description="The lead department's id (`DepartmentOut.id`; filter `GET /v1/requests?lead_department_id=`)"
    )
    lead_department_code: str | None = Field(description="The lead department's code")
    lead_department_name: str | None = Field(description="The lead department's name")
    handler_id: int | None = Field(
        description="The handler's staff account id (a member's `staff_id`; filter `GET /v1/requests?handler_id=`)"
    )
    handler_name: str | None = Field(
        description="The handler's display name; shown to staff callers only (null for API keys)"
    )
    co_departments: list[DepartmentRef] = Field(
        description="Co-handling departments of a joint request (民情会办), besides the lead"
    )


class CoTaskOut(BaseModel):
    """One co-unit's part of a joint request (协办): its unit, status, deadline and reply."""

    id: int = Field(description="The task id (`/v1/requests/{id}/co-tasks/{task_id}/accept|reply|waive`)")
    unit_kind: Literal["team", "department"]
    unit_id: int = Field(description="The grid team's id (`TeamOut.id`) or the department's id (`DepartmentOut.id`)")
    unit_code: str | None = Field(description="The department's code (teams have none)")
    unit_name: str
    status: CoTaskStatus
    respond_by: LocalDateTime = Field(description="When the co-unit must reply")
    accepted_at: LocalDateTime | None
    replied_at: LocalDateTime | None
    reply: str | None = Field(description="The co-unit's reply (for integrations: only a public one)")
    reply_public: bool
    waive_reason: str | None
    version: int


class FeedbackSeen(BaseModel):
    """A citizen's evaluation of one resolution, as staff see it (the comment tells the handler what to redo)."""

    resolution_no: int = Field(description="Which resolution it judged (1, then 2 after a reopen)")
    resolved: bool
    satisfaction: Literal["satisfied", "basically_satisfied", "dissatisfied"]
    comment: str | None
    recorded_at: LocalDateTime


class RequestCounts(BaseModel):
    """How many requests match a list's filters: in all, per status and per SLA standing."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "total": 12,
                    "by_status": {"assigned": 5, "accepted": 6, "suspended": 1},
                    "by_sla_state": {"ok": 9, "warning": 2, "overdue": 1},
                }
            ]
        }
    )

    total: int
    by_status: dict[str, int]
    by_sla_state: dict[str, int]


class RequestOut(BaseModel):
    id: int
    tracking_no: str
    channel: Channel
    category: str
    description: str
    priority: Priority
    status: Status
    sla_state: SlaState
    location: LocationOut
    citizen: CitizenOut
    media_urls: list[str]
    external_id: str | None
    attributes: dict[str, Any]
    received_at: LocalDateTime
    due: Due
    duplicate_of: int | None
    handling: HandlingOut
    co_tasks: list[CoTaskOut] = Field(
        description="Co-units of a joint request (民情会办), departments and grid teams, each with its own task"
    )
    feedback: list[FeedbackSeen] = Field(
        default_factory=list,
        description="The citizen's evaluations, oldest first, comments included: staff only (empty for integrations)",
    )
    version: int
    links: dict[str, str]


class EventOut(BaseModel):
    seq: int
    kind: str
    actor: str
    from_status: str | None
    to_status: str | None
    note: str | None
    public: bool
    data: dict[str, Any]
    occurred_at: LocalDateTime
    prev_hash: str
    hash: str


class EventsOut(BaseModel):
    items: list[EventOut]
    chain_intact: bool = Field(description="Whether every event's hash matches its content and predecessor")


class TrackNote(BaseModel):
    occurred_at: LocalDateTime
    note: str
    unit_name: str | None = Field(None, description="The co-unit that wrote it (joint handling), else null")


class TrackOut(BaseModel):
    """What a citizen sees: no names, no phones, no internal notes."""

    tracking_no: str
    status: Status
    category: str
    category_name: str
    received_at: LocalDateTime
    due: Due
    public_notes: list[TrackNote]


class VisitCreate(StrictInput):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "household",
                    "org_unit_code": "330203001001001",
                    "visited_at": "2026-11-26T10:00:00+08:00",
                    "households": 3,
                    "notes": "走访三户，反映楼道灯不亮。",
                    "requests": [
                        {
                            "channel": "visit",
                            "category": "city.street_light",
                            "description": "3号楼楼道灯不亮",
                            "location": {"org_unit_code": "330203001001001"},
                        }
                    ],
                }
            ]
        },
    )

    kind: Literal["household", "leader_contact"]
    org_unit_code: Code
    visited_at: Annotated[CityDateTime, Field(description=f"When the visit took place. {CITY_TIME_NOTE}")]
    households: Annotated[int, Field(ge=0, le=1000)] = 1
    notes: Annotated[SafeText | None, Field(max_length=4000)] = None
    requests: Annotated[list[RequestCreate], Field(max_length=20)] = []


class VisitOut(BaseModel):
    id: int
    kind: str
    org_unit_code: str
    staff_id: int
    visited_at: LocalDateTime
    households: int
    notes: str | None
    requests: list[RequestCreated]


PERIOD_RE = r"^\d{4}(-(0[1-9]|1[0-2])|-Q[1-4])?$"


class AssessmentCreate(StrictInput):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "org_unit_code": "330203001",
                    "period": "2026-Q3",
                    "source": "resident_organisation",
                    "assessor": "宁波银行海曙支行",
                    "score": 92.5,
                    "respondents": 12,
                }
            ]
        },
    )

    org_unit_code: Code
    period: Annotated[SafeText, Field(pattern=PERIOD_RE, examples=["2026-03", "2026-Q1", "2026"])]
    source: Literal["resident_organisation", "public_opinion"]
    assessor: Annotated[SafeText, Field(min_length=1, max_length=200)]
    score: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
    respondents: Annotated[int | None, Field(ge=1, le=10_000_000)] = None
    notes: Annotated[SafeText | None, Field(max_length=4000)] = None


class AssessmentOut(BaseModel):
    id: int
    org_unit_code: str
    period: str
    source: str
    assessor: str
    score: float
    respondents: int | None
    notes: str | None
    created_at: LocalDateTime
