"""Pydantic shapes of webhook subscriptions and their deliveries."""

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator

from services.models.intake import RequestStatus
from services.webhooks.guard import MAX_URL_LENGTH, check_url, webhook_config
from services.webhooks.signing import standard_secret
from shared.schemas import LocalDateTime

EventType = Literal[
    "request.status_changed",
    "request.sla_warning",
    "request.sla_overdue",
    "request.escalated",
    "request.supervised",
    "alert.raised",
    "citizen.notify",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
# The events about one request: they go to the integration that submitted it (like its status), never to others.
REQUEST_EVENT_TYPES: tuple[str, ...] = tuple(t for t in EVENT_TYPES if t.startswith("request."))
DeliveryState = Literal["pending", "delivered", "failed"]


class WebhookCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"url": "https://hotline.example.cn/minqing/events", "event_types": ["request.status_changed"]}
            ]
        },
    )

    url: Annotated[
        str,
        Field(
            min_length=1,
            max_length=MAX_URL_LENGTH,
            description="Where events are POSTed: an https:// URL on a public host, no user name or password",
        ),
    ]
    event_types: Annotated[
        list[EventType], Field(min_length=1, max_length=10, description="Events to receive (duplicates are ignored)")
    ]

    @field_validator("url")
    @classmethod
    def _safe_url(cls, value: str) -> str:
        check_url(value, webhook_config())
        return value

    @field_validator("event_types")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        return sorted(set(value))


class WebhookOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 7,
                    "url": "https://hotline.example.cn/minqing/events",
                    "event_types": ["request.status_changed"],
                    "active": True,
                    "created_at": "2026-11-26T17:30:00+08:00",
                }
            ]
        },
    )

    id: int
    url: str
    event_types: list[EventType]
    active: bool
    created_at: LocalDateTime


class WebhookCreated(WebhookOut):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 7,
                    "url": "https://hotline.example.cn/minqing/events",
                    "event_types": ["request.status_changed"],
                    "active": True,
                    "created_at": "2026-11-26T17:30:00+08:00",
                    "secret": "q3J0d2V4YW1wbGUtc2VjcmV0LXNob3duLW9uY2UtMDEyMzQ1",
                    "standard_secret": "whsec_cTNKMGQyVjRZVzF3YkdVdGMyVmpjbVYwTFhOb2IzZHVMVzl1WTJVdE1ERXlNelExCg==",
                }
            ]
        }
    )

    secret: str = Field(
        description="The signing key (HMAC-SHA256 over its UTF-8 bytes) of `webhook-signature` and of the deprecated"
        " `X-Minqing-Signature`: shown in this answer only, store it now"
    )

    @computed_field(  # type: ignore[prop-decorator]
        description="The same key as the Standard Webhooks libraries take it (`whsec_` + base64 of its bytes)"
    )
    @property
    def standard_secret(self) -> str:
        return standard_secret(self.secret)


class DeliveryOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 1042,
                    "event_id": "evt_5f0c2a4b9d8e4f7a8b1c2d3e4f5a6b7c",
                    "event_type": "request.status_changed",
                    "state": "pending",
                    "attempts": 2,
                    "next_attempt_at": "2026-11-26T17:31:00+08:00",
                    "last_status_code": 503,
                    "last_error": "HTTP 503",
                    "created_at": "2026-11-26T17:30:00+08:00",
                    "delivered_at": None,
                    "body": {
                        "id": "evt_5f0c2a4b9d8e4f7a8b1c2d3e4f5a6b7c",
                        "type": "request.status_changed",
                        "occurred_at": "2026-11-26T17:30:00+08:00",
                        "request_id": 311,
                        "version": 2,
                        "from": "received",
                        "to": "assigned",
                    },
                }
            ]
        },
    )

    id: int = Field(description="Also sent as `X-Minqing-Delivery`")
    event_id: str = Field(description="The event's `id`: the same for every subscription and every retry")
    event_type: EventType | Literal["webhook.ping"] = Field(
        description="The event's type; `webhook.ping` for a test event (`POST /v1/webhooks/{id}/ping`)"
    )
    state: DeliveryState
    attempts: int
    next_attempt_at: LocalDateTime | None = Field(description="When it is tried next (pending deliveries only)")
    last_status_code: int | None
    last_error: str | None
    created_at: LocalDateTime
    delivered_at: LocalDateTime | None
    body: dict[str, Any]


# ---- the bodies of the events (documented in the OpenAPI `webhooks` section) -----------------------

SlaStanding = Literal["ok", "warning", "overdue"]
Phase = Literal["response", "resolution"]


class EventEnvelope(BaseModel):
    """What every event carries; the same `id` on every retry and for every subscription."""

    id: str = Field(description="The event's id (`evt_…`), also in the delivery's `event_id`")
    type: EventType
    occurred_at: LocalDateTime


class RequestEventBody(EventEnvelope):
    """The fields every `request.*` event carries (SPEC §8's body plus the request's public numbers)."""

    model_config = ConfigDict(populate_by_name=True)

    request_id: int
    version: int = Field(description="The request's version after the change (If-Match of the next action)")
    from_: RequestStatus = Field(alias="from", description="The request's status before the change")
    to: RequestStatus = Field(description="Its status after; the same as `from` for all but `request.status_changed`")
    tracking_no: str = Field(description="The tracking number the citizen was given")
    external_id: str | None = Field(description="The submitting system's own id of the request, if it sent one")


class RequestStatusChangedBody(RequestEventBody):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "evt_5f0c2a4b9d8e4f7a8b1c2d3e4f5a6b7c",
                    "type": "request.status_changed",
                    "occurred_at": "2026-11-26T17:30:00+08:00",
                    "request_id": 311,
                    "version": 2,
                    "from": "received",
                    "to": "assigned",
                    "tracking_no": "202611260000311",
                    "external_id": "12345-20261126-0042",
                }
            ]
        }
    )


class HandlingUnitRef(BaseModel):
    """Where the request is handled: its scope path and its lead grid team or department."""

    unit_path: str
    lead_team_id: int | None
    lead_department_id: int | None


class SlaEventBody(RequestEventBody):
    """黄牌 (`request.sla_warning`, 80% of the deadline in force has passed) or 红牌 (`request.sla_overdue`)."""

    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "evt_0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f",
                    "type": "request.sla_overdue",
                    "occurred_at": "2026-12-07T17:30:20+08:00",
                    "request_id": 311,
                    "version": 6,
                    "from": "accepted",
                    "to": "accepted",
                    "tracking_no": "202611260000311",
                    "external_id": "12345-20261126-0042",
                    "sla_state": "overdue",
                    "phase": "resolution",
                    "deadline": "2026-12-07T17:30:00+08:00",
                    "escalation_level": 1,
                    "unit": {
                        "unit_path": "/3302/330203/330203001/330203001001/",
                        "lead_team_id": 4,
                        "lead_department_id": None,
                    },
                }
            ]
        },
    )

    sla_state: SlaStanding
    phase: Phase = Field(description="Which deadline: the response (acceptance) or the resolution")
    deadline: LocalDateTime = Field(description="That deadline, as it stands")
    escalation_level: int = Field(description="How many levels up it has been escalated (0: not escalated)")
    unit: HandlingUnitRef


class UnitRef(BaseModel):
    code: str | None
    name: str | None
    path: str


class EscalatedEventBody(SlaEventBody):
    """One step up the org tree: by the SLA clock (`overdue`, then `timed` every escalation delay while it
    stays overdue) or by hand (`manual`, `POST /v1/requests/{id}/escalate`)."""

    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "evt_9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d",
                    "type": "request.escalated",
                    "occurred_at": "2026-12-08T17:30:20+08:00",
                    "request_id": 311,
                    "version": 7,
                    "from": "accepted",
                    "to": "accepted",
                    "tracking_no": "202611260000311",
                    "external_id": "12345-20261126-0042",
                    "sla_state": "overdue",
                    "phase": "resolution",
                    "deadline": "2026-12-07T17:30:00+08:00",
                    "escalation_level": 2,
                    "unit": {
                        "unit_path": "/3302/330203/330203001/330203001001/",
                        "lead_team_id": 4,
                        "lead_department_id": None,
                    },
                    "reason": "timed",
                    "escalated_to": {"code": "330203001", "name": "鼓楼街道", "path": "/3302/330203/330203001/"},
                    "supervisor_ids": [41],
                    "leader_ids": [],
                    "note": None,
                }
            ]
        },
    )

    reason: Literal["overdue", "timed", "manual"]
    escalated_to: UnitRef = Field(description="The unit whose supervisors it went to")
    supervisor_ids: list[int] = Field(description="Supervisors scoped at that unit, told by this step")
    leader_ids: list[int] = Field(description="Key-group requests: the leaders linked to that unit")
    note: str | None = Field(description="The escalating handler's or dispatcher's note (manual steps)")


class SupervisedEventBody(SlaEventBody):
    """A supervisor's 督办 (`kind: order`, with a deadline for the handling unit) or 催办 (`kind: reminder`)."""

    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "evt_1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e",
                    "type": "request.supervised",
                    "occurred_at": "2026-12-08T09:15:00+08:00",
                    "request_id": 311,
                    "version": 8,
                    "from": "accepted",
                    "to": "accepted",
                    "tracking_no": "202611260000311",
                    "external_id": "12345-20261126-0042",
                    "sla_state": "overdue",
                    "phase": "resolution",
                    "deadline": "2026-12-07T17:30:00+08:00",
                    "escalation_level": 2,
                    "unit": {
                        "unit_path": "/3302/330203/330203001/330203001001/",
                        "lead_team_id": 4,
                        "lead_department_id": None,
                    },
                    "kind": "order",
                    "order_id": 12,
                    "note": "请于12月10日前办结并报告",
                    "due_by": "2026-12-10T17:30:00+08:00",
                }
            ]
        },
    )

    kind: Literal["order", "reminder"]
    order_id: int
    note: str
    due_by: LocalDateTime | None = Field(description="督办 only: by when the handling unit must resolve it")
