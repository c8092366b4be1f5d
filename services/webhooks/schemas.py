"""Pydantic shapes of webhook subscriptions and their deliveries."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.webhooks.guard import MAX_URL_LENGTH, check_url, webhook_config
from shared.schemas import LocalDateTime

EventType = Literal["request.status_changed", "alert.raised"]
EVENT_TYPES: tuple[str, ...] = ("request.status_changed", "alert.raised")
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
        }
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
                }
            ]
        }
    )

    secret: str = Field(description="HMAC-SHA256 key of `X-Minqing-Signature`: shown in this answer only, store it now")


class DeliveryOut(BaseModel):
    model_config = ConfigDict(
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
        }
    )

    id: int = Field(description="Also sent as `X-Minqing-Delivery`")
    event_id: str = Field(description="The event's `id`: the same for every subscription and every retry")
    event_type: EventType
    state: DeliveryState
    attempts: int
    next_attempt_at: LocalDateTime | None = Field(description="When it is tried next (pending deliveries only)")
    last_status_code: int | None
    last_error: str | None
    created_at: LocalDateTime
    delivered_at: LocalDateTime | None
    body: dict[str, Any]
