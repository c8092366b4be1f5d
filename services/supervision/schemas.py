"""Pydantic shapes of the supervisors' inbox, supervision orders and reminders, and deadline extensions."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.models.intake import RequestStatus as Status  # the one list of statuses
from shared.schemas import CITY_TIME_NOTE, CityDateTime, LocalDateTime, SafeText, StrictInput

Text = Annotated[SafeText, Field(min_length=1, max_length=4000)]
InboxState = Literal["open", "all"]
InboxReason = Literal["overdue", "escalated", "key_group", "supervised"]
ExtensionStatus = Literal["pending", "approved", "rejected"]


class SuperviseIn(StrictInput):
    """督办: a formal order to the handling unit, with a note and a deadline."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"note": "群众反映强烈，请于12月10日前办结并书面报告", "due_by": "2026-12-10T17:30:00+08:00"}]
        }
    )
    note: Text
    due_by: Annotated[
        CityDateTime,
        Field(
            description="By when the handling unit must have it resolved: in the future, at most `handling.supervision_order_max_days` (default 90) days ahead. "
            f"It is the order's own deadline and does not move the request's `resolve_by`. {CITY_TIME_NOTE}"
        ),
    ]


class RemindIn(StrictInput):
    """催办: a lighter reminder, a note only."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"note": "请加快办理，今日内回复进展"}]})
    note: Text


class OrderOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 12,
                    "request_id": 311,
                    "tracking_no": "202611260000311",
                    "kind": "order",
                    "note": "群众反映强烈，请于12月10日前办结并书面报告",
                    "due_by": "2026-12-10T17:30:00+08:00",
                    "issued_by_id": 41,
                    "issued_by_name": "区督查室 王五",
                    "team_id": 4,
                    "department_id": None,
                    "handler_id": 17,
                    "created_at": "2026-12-08T09:15:00+08:00",
                    "open": True,
                    "overdue": False,
                    "request_version": 8,
                }
            ]
        }
    )

    id: int
    request_id: int
    tracking_no: str
    kind: Literal["order", "reminder"] = Field(description="`order` 督办 or `reminder` 催办")
    note: str
    due_by: LocalDateTime | None = Field(description="督办 only: by when the handling unit must resolve it")
    issued_by_id: int | None
    issued_by_name: str | None
    team_id: int | None = Field(description="The lead grid team it was addressed to")
    department_id: int | None = Field(description="The lead department it was addressed to")
    handler_id: int | None
    created_at: LocalDateTime
    open: bool = Field(description="督办 still to be met: the request is not resolved or closed yet")
    overdue: bool = Field(description="督办 whose `due_by` has passed while still open")
    request_version: int = Field(description="The request's version now (If-Match of the next action)")


class EscalationOut(BaseModel):
    level: int = Field(description="Levels above the handling unit (1: its parent unit)")
    reason: Literal["overdue", "timed", "manual"] = Field(description="What made the last step")
    escalated_at: LocalDateTime
    to_unit_code: str | None
    to_unit_name: str | None
    to_path: str


class LeadOut(BaseModel):
    lead_team_id: int | None
    lead_team_name: str | None
    lead_department_id: int | None
    lead_department_code: str | None
    lead_department_name: str | None
    handler_id: int | None
    handler_name: str | None


class PendingExtensionOut(BaseModel):
    id: int
    proposed_resolve_by: LocalDateTime
    requested_at: LocalDateTime


class InboxItem(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "request_id": 311,
                    "tracking_no": "202611260000311",
                    "external_id": "12345-20261126-0042",
                    "category": "env.noise",
                    "category_name": "噪声扰民",
                    "key_group": False,
                    "priority": "normal",
                    "status": "accepted",
                    "sla_state": "overdue",
                    "received_at": "2026-11-26T17:30:00+08:00",
                    "respond_by": "2026-11-27T10:30:00+08:00",
                    "resolve_by": "2026-12-07T17:30:00+08:00",
                    "phase": "resolution",
                    "deadline": "2026-12-07T17:30:00+08:00",
                    "reasons": ["overdue", "escalated", "supervised"],
                    "escalation": {
                        "level": 2,
                        "reason": "timed",
                        "escalated_at": "2026-12-08T17:30:20+08:00",
                        "to_unit_code": "330203001",
                        "to_unit_name": "鼓楼街道",
                        "to_path": "/3302/330203/330203001/",
                    },
                    "handling": {
                        "lead_team_id": 4,
                        "lead_team_name": "团队330203001001001",
                        "lead_department_id": None,
                        "lead_department_code": None,
                        "lead_department_name": None,
                        "handler_id": 17,
                        "handler_name": "张网格",
                    },
                    "unit_path": "/3302/330203/330203001/330203001001/330203001001001/",
                    "orders": [],
                    "reminders": 1,
                    "last_reminded_at": "2026-12-08T09:00:00+08:00",
                    "pending_extension": None,
                    "version": 8,
                }
            ]
        }
    )

    request_id: int
    tracking_no: str
    external_id: str | None
    category: str
    category_name: str
    key_group: bool = Field(description="A key-group matter (重点人群)")
    priority: Literal["emergency", "high", "normal"]
    status: Status
    sla_state: Literal["ok", "warning", "overdue"]
    received_at: LocalDateTime
    respond_by: LocalDateTime
    resolve_by: LocalDateTime
    phase: Literal["response", "resolution"] = Field(description="Which deadline is running")
    deadline: LocalDateTime = Field(description="The deadline running now (respond_by or resolve_by)")
    reasons: list[InboxReason] = Field(description="Why it is in the inbox")
    escalation: EscalationOut | None
    handling: LeadOut
    unit_path: str
    orders: list[OrderOut] = Field(description="督办 issued on it, oldest first")
    reminders: int = Field(description="催办 issued on it")
    last_reminded_at: LocalDateTime | None
    pending_extension: PendingExtensionOut | None
    version: int


class SupervisionOut(BaseModel):
    """A request's supervision: where it stands on the escalation ladder and the orders and reminders on it."""

    request_id: int
    escalation: EscalationOut | None
    orders: list[OrderOut] = Field(description="督办 and 催办, oldest first")


class ExtensionCreate(StrictInput):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "reason": "需协调供电公司迁移线杆，预计需再10个工作日",
                    "proposed_resolve_by": "2026-12-21T17:30:00+08:00",
                }
            ]
        }
    )
    reason: Text
    proposed_resolve_by: Annotated[
        CityDateTime,
        Field(
            description="The resolution deadline asked for: after the current `resolve_by` and in the future, "
            f"at most `handling.extension_max_days` (default 30) days after the current `resolve_by`. {CITY_TIME_NOTE}"
        ),
    ]


class ExtensionApprove(StrictInput):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"note": "同意延期至12月18日", "resolve_by": "2026-12-18T17:30:00+08:00"}]}
    )
    note: Text | None = None
    resolve_by: Annotated[
        CityDateTime | None,
        Field(
            description="A deadline other than the one proposed (same limits); omitted: the proposed one. "
            + CITY_TIME_NOTE
        ),
    ] = None


class ExtensionReject(StrictInput):
    model_config = ConfigDict(json_schema_extra={"examples": [{"note": "理由不充分，请按期办结"}]})
    note: Text


class ExtensionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 5,
                    "request_id": 311,
                    "tracking_no": "202611260000311",
                    "status": "approved",
                    "reason": "需协调供电公司迁移线杆，预计需再10个工作日",
                    "proposed_resolve_by": "2026-12-21T17:30:00+08:00",
                    "requested_by_id": 17,
                    "requested_by_name": "张网格",
                    "requested_at": "2026-12-03T10:00:00+08:00",
                    "decided_by_id": 9,
                    "decided_by_name": "派单员 李四",
                    "decided_at": "2026-12-03T14:00:00+08:00",
                    "decision_note": "同意延期至12月18日",
                    "resolve_by_before": "2026-12-07T17:30:00+08:00",
                    "resolve_by_after": "2026-12-18T17:30:00+08:00",
                    "version": 2,
                    "request_version": 9,
                }
            ]
        }
    )

    id: int
    request_id: int
    tracking_no: str
    status: ExtensionStatus
    reason: str
    proposed_resolve_by: LocalDateTime
    requested_by_id: int | None
    requested_by_name: str | None
    requested_at: LocalDateTime
    decided_by_id: int | None
    decided_by_name: str | None
    decided_at: LocalDateTime | None
    decision_note: str | None
    resolve_by_before: LocalDateTime = Field(description="The request's resolve_by when it was applied for")
    resolve_by_after: LocalDateTime | None = Field(description="The resolve_by approved (approved only)")
    version: int = Field(description="The application's version: If-Match of approve and reject")
    request_version: int = Field(description="The request's version now")
