"""The events webhook subscriptions receive, documented in the OpenAPI document's `webhooks` section.

Each is POSTed as JSON to the subscription's URL, signed with its secret: `X-Minqing-Signature:
sha256=<hex HMAC-SHA256 of the raw body>`, `X-Minqing-Event: <type>`, `X-Minqing-Delivery: <delivery id>`.
Any 2xx answer acknowledges it; anything else (or no answer in time) is retried with backoff for 24 h.
The `request.*` events go to the integration that submitted the request; `alert.raised` to every
subscriber of it.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Header
from pydantic import ConfigDict, Field

from services.alerts.schemas import AlertOut
from services.webhooks.schemas import (
    EscalatedEventBody,
    EventEnvelope,
    RequestStatusChangedBody,
    SlaEventBody,
    SupervisedEventBody,
)
from services.webhooks.signing import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER
from shared.schemas import LocalDateTime

router = APIRouter(tags=["webhook events"])

_ALERT_EXAMPLE = AlertOut.model_json_schema()["examples"][0]


class AlertRaisedBody(EventEnvelope):
    """The alert as `GET /v1/alerts` shows it, its id as `alert_id`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "evt_7e6d5c4b3a291807f6e5d4c3b2a19080",
                    "type": "alert.raised",
                    "occurred_at": _ALERT_EXAMPLE["raised_at"],
                    "alert_id": _ALERT_EXAMPLE["id"],
                    **{k: v for k, v in _ALERT_EXAMPLE.items() if k != "id"},
                }
            ]
        }
    )

    alert_id: int = Field(description="The alert's id (`GET /v1/alerts`)")
    community_code: str
    community_name: str
    category_root: str
    category_name: str
    count_24h: int
    baseline_daily_mean: float
    p_value: float
    key_group: bool
    window_start: LocalDateTime
    window_end: LocalDateTime
    raised_at: LocalDateTime


Signature = Annotated[str, Header(alias=SIGNATURE_HEADER, description="`sha256=` and the hex HMAC-SHA256 of the body")]
Event = Annotated[str, Header(alias=EVENT_HEADER, description="The event's type")]
Delivery = Annotated[str, Header(alias=DELIVERY_HEADER, description="The delivery's id (retries keep it)")]
ACK: dict[int | str, dict[str, Any]] = {
    200: {"description": "Any 2xx acknowledges the delivery; anything else is retried for 24 h"}
}


@router.post("request.status_changed", summary="A request changed status", responses=ACK)
def request_status_changed(
    body: RequestStatusChangedBody, signature: Signature, event: Event, delivery: Delivery
) -> None:
    """Every status change of a request your key submitted (routed, accepted, resolved, closed, …)."""


@router.post("request.sla_warning", summary="Yellow card (黄牌): 80% of a deadline has passed", responses=ACK)
def request_sla_warning(body: SlaEventBody, signature: Signature, event: Event, delivery: Delivery) -> None:
    """The SLA clock turned the request `warning`: 80% of the deadline in force (`phase`, `deadline`) has passed."""


@router.post("request.sla_overdue", summary="Red card (红牌): a deadline has passed", responses=ACK)
def request_sla_overdue(body: SlaEventBody, signature: Signature, event: Event, delivery: Delivery) -> None:
    """The deadline in force passed: the request is `overdue` and escalates one level (a `request.escalated`
    event follows)."""


@router.post("request.escalated", summary="Escalated one level up the org tree", responses=ACK)
def request_escalated(body: EscalatedEventBody, signature: Signature, event: Event, delivery: Delivery) -> None:
    """One step up: `overdue` (the red card's step, to the parent unit of where it is handled), `timed`
    (still overdue an escalation delay, default 24 h, after the last step: the next level, until the
    city) or `manual` (a handler or dispatcher escalated it). Key-group requests also name the leaders
    linked to the unit reached."""


@router.post("request.supervised", summary="Supervision order (督办) or reminder (催办)", responses=ACK)
def request_supervised(body: SupervisedEventBody, signature: Signature, event: Event, delivery: Delivery) -> None:
    """A supervisor issued a 督办 (`kind: order`, with `due_by` for the handling unit) or a 催办
    (`kind: reminder`) on the request."""


@router.post("alert.raised", summary="Hot spot alert (热点预警)", responses=ACK)
def alert_raised(body: AlertRaisedBody, signature: Signature, event: Event, delivery: Delivery) -> None:
    """An unusual surge of one top-level category in one community (`GET /v1/alerts`): sent to every
    subscriber of `alert.raised`."""
