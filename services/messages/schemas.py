"""Pydantic shapes of the messages: the admin view, the SMS gateway's replies, the feedback invitation,
and the `citizen.notify` webhook body."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.models.intake import RequestStatus
from services.webhooks.schemas import EventEnvelope
from shared.schemas import IsoAwareDateTime, LocalDateTime, SafeText, StrictInput

MessageEvent = Literal["received", "replied", "resolved", "reopened"]
MessageMedium = Literal["sms", "webhook"]
MessageState = Literal["pending", "sent", "failed"]
ReplyOutcome = Literal["recorded", "already_evaluated", "expired", "no_invitation", "unreadable"]
Satisfaction = Literal["satisfied", "basically_satisfied", "dissatisfied"]


class MessageOut(BaseModel):
    """A message owed to a citizen, as administrators see it: no phone, no token, no text with either."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 58,
                    "request_id": 311,
                    "event": "resolved",
                    "medium": "sms",
                    "state": "pending",
                    "attempts": 2,
                    "next_attempt_at": "2026-12-04T10:16:10+08:00",
                    "give_up_at": "2026-12-05T10:15:00+08:00",
                    "last_code": "isv.BUSINESS_LIMIT_CONTROL",
                    "last_error": "HTTP 200, isv.BUSINESS_LIMIT_CONTROL: 触发流控",
                    "provider_message_id": None,
                    "variables": {"tracking_no": "261204482177353", "channel": "hotline", "reply": "路灯已修复"},
                    "created_at": "2026-12-04T10:15:00+08:00",
                    "sent_at": None,
                }
            ]
        },
    )

    id: int
    request_id: int
    event: MessageEvent
    medium: MessageMedium
    state: MessageState
    attempts: int
    next_attempt_at: LocalDateTime | None = Field(description="When it is tried next (pending messages only)")
    give_up_at: LocalDateTime = Field(description="Retried until then; `failed` after it")
    last_code: str | None = Field(description="The gateway's last code (`OK`, a provider's error code)")
    last_error: str | None
    provider_message_id: str | None
    variables: dict[str, Any] = Field(description="The template's values (no personal data)")
    created_at: LocalDateTime
    sent_at: LocalDateTime | None


class SmsReplyIn(BaseModel):
    """A citizen's SMS as the gateway passes it on (fields the gateway adds beyond these are ignored)."""

    model_config = ConfigDict(
        populate_by_name=True,
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "message_id": "gw-20261204-000981",
                    "from": "13800001234",
                    "text": "1",
                    "received_at": "2026-12-04T10:20:00+08:00",
                }
            ]
        },
    )

    message_id: Annotated[
        SafeText, Field(min_length=1, max_length=100, description="The gateway's id of the SMS: a repeat is a no-op")
    ]
    from_: Annotated[
        SafeText,
        Field(alias="from", min_length=1, max_length=32, description="The sender's number (mainland or E.164)"),
    ]
    text: Annotated[SafeText, Field(max_length=500, description="What the citizen wrote (not stored)")]
    received_at: IsoAwareDateTime | None = Field(None, description="When the gateway got it (default: now)")


class SmsReplyOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "outcome": "recorded",
                    "answer": "dissatisfied",
                    "status": "assigned",
                    "reopened": True,
                    "repeat": False,
                }
            ]
        }
    )

    outcome: ReplyOutcome = Field(
        description="`recorded` (the feedback is in), `already_evaluated`, `expired` (the request is no longer "
        "resolved), `no_invitation` (nothing open for this phone, or that reply code), `unreadable`"
    )
    answer: Satisfaction | None = Field(description="What the reply said, when it could be read")
    status: RequestStatus | None = Field(description="The request's status after the feedback (`recorded` only)")
    reopened: bool = Field(description="The feedback reopened the request (重办)")
    repeat: bool = Field(description="The gateway sent this message id before: the first answer, again")


class InvitationOut(BaseModel):
    """What the feedback link shows: the resolution to evaluate, no personal data."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "tracking_no": "261204482177353",
                    "status": "resolved",
                    "resolution_no": 1,
                    "outcome": "resolved",
                    "public_reply": "路灯已修复",
                    "resolved_at": "2026-12-04T10:15:00+08:00",
                    "open": True,
                    "choices": ["satisfied", "basically_satisfied", "dissatisfied"],
                }
            ]
        }
    )

    tracking_no: str
    status: RequestStatus
    resolution_no: int
    outcome: str | None
    public_reply: str | None
    resolved_at: LocalDateTime | None
    open: bool = Field(description="Feedback may still be given with this link")
    choices: list[Satisfaction]


class InvitationFeedbackIn(StrictInput):
    """The evaluation given through the link (the token is the proof: no phone digits needed)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"resolved": True, "satisfaction": "satisfied", "comment": "处理及时"}]}
    )

    resolved: bool
    satisfaction: Satisfaction
    comment: Annotated[SafeText | None, Field(max_length=2000)] = None


class NotifyFeedback(BaseModel):
    resolution_no: int
    url: str = Field(description="Where the integration records the citizen's evaluation (with its `citizen_token`)")
    choices: list[Satisfaction]


class CitizenNotifyBody(EventEnvelope):
    """A message for the citizen, for the integration that submitted the request to pass on (app push, its own SMS)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "evt_3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f",
                    "type": "citizen.notify",
                    "occurred_at": "2026-12-04T10:15:03+08:00",
                    "message_id": "msg_58",
                    "request_id": 311,
                    "tracking_no": "261204482177353",
                    "external_id": "12345-20261204-0042",
                    "event": "resolved",
                    "channel": "app",
                    "text": "您的诉求（编号261204482177353）已办结（已解决）：路灯已修复。请对办理结果进行评价。",
                    "feedback": {
                        "resolution_no": 1,
                        "url": "/v1/track/261204482177353/feedback",
                        "choices": ["satisfied", "basically_satisfied", "dissatisfied"],
                    },
                }
            ]
        }
    )

    message_id: str = Field(description="The message's id (`msg_…`): the same on every retry")
    request_id: int
    tracking_no: str
    external_id: str | None
    event: MessageEvent
    channel: str
    text: str = Field(description="The text rendered from the `<event>.webhook[.<channel>]` template")
    feedback: NotifyFeedback | None = Field(description="With `resolved`: how the citizen's evaluation comes back")
