"""The events webhook subscriptions receive, documented in the OpenAPI document's `webhooks` section.

Each is POSTed as JSON to the subscription's URL and signed the Standard Webhooks way (VERIFYING below):
`webhook-id` (the event's id, the same on every retry and redelivery), `webhook-timestamp` (Unix seconds,
when this attempt was sent), `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
Deprecated, still sent until the end of 2027: `X-Minqing-Signature: sha256=<hex HMAC-SHA256 of the raw
body>` (it cannot tell a replay), `X-Minqing-Event`, `X-Minqing-Delivery`. Any 2xx answer acknowledges a
delivery; anything else (or no answer in time) is retried with backoff for 24 h. The `request.*` events go
to the integration that submitted the request; `alert.raised` to every subscriber of it.
`POST /v1/webhooks/{id}/ping` sends a `webhook.ping`; `POST /v1/webhooks/{id}/deliveries/{d}/redeliver`
sends a delivery again.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Header
from fastapi.routing import APIRoute
from pydantic import ConfigDict, Field

from services.alerts.schemas import AlertOut
from services.webhooks.schemas import (
    EscalatedEventBody,
    EventEnvelope,
    RequestStatusChangedBody,
    SlaEventBody,
    SupervisedEventBody,
)
from services.webhooks.signing import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    ID_HEADER,
    SIGNATURE_HEADER,
    STANDARD_SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
)
from shared.schemas import LocalDateTime

# How a receiver checks a delivery (shown in the OpenAPI description of every event).
VERIFYING = """
**Verifying a delivery** (Standard Webhooks): reject it unless `webhook-timestamp` is within 5 minutes of
your clock and one of the space-separated `v1,` signatures in `webhook-signature` matches; keep the
`webhook-id`s you have handled and drop repeats. In Python, with the `secret` from the subscription's
creation:

```python
import base64, hashlib, hmac, time

def verify(body: bytes, headers, secret: str, tolerance: int = 300) -> bool:
    msg_id, ts = headers["webhook-id"], headers["webhook-timestamp"]
    if not ts.isdigit() or abs(time.time() - int(ts)) > tolerance:
        return False  # too old (or from the future): a replay
    mac = hmac.new(secret.encode(), f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(mac).decode()
    return any(hmac.compare_digest(expected, s) for s in headers["webhook-signature"].split())
```

The Standard Webhooks libraries (`standardwebhooks` for Python, Node, Go, …) do the same with the
subscription's `standard_secret` (`whsec_…`).
"""

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


MessageId = Annotated[
    str, Header(alias=ID_HEADER, description="The event's id: the same on every retry and redelivery (drop repeats)")
]
Timestamp = Annotated[
    str, Header(alias=TIMESTAMP_HEADER, description="Unix seconds when this attempt was sent: refuse it if old")
]
StandardSignature = Annotated[
    str,
    Header(
        alias=STANDARD_SIGNATURE_HEADER,
        description='`v1,` and the base64 HMAC-SHA256 of `"{webhook-id}.{webhook-timestamp}.{body}"`',
    ),
]
Signature = Annotated[
    str,
    Header(
        alias=SIGNATURE_HEADER,
        description="Deprecated (until the end of 2027; no timestamp): `sha256=` and the hex HMAC-SHA256 of the body",
        deprecated=True,
    ),
]
Event = Annotated[str, Header(alias=EVENT_HEADER, description="Deprecated: the event's type", deprecated=True)]
Delivery = Annotated[
    str, Header(alias=DELIVERY_HEADER, description="Deprecated: the delivery's id (retries keep it)", deprecated=True)
]
ACK: dict[int | str, dict[str, Any]] = {
    200: {"description": "Any 2xx acknowledges the delivery; anything else is retried for 24 h"}
}


@router.post("request.status_changed", summary="A request changed status", responses=ACK)
def request_status_changed(
    body: RequestStatusChangedBody,
    webhook_id: MessageId,
    webhook_timestamp: Timestamp,
    webhook_signature: StandardSignature,
    signature: Signature,
    event: Event,
    delivery: Delivery,
) -> None:
    """Every status change of a request your key submitted (routed, accepted, resolved, closed, …)."""


@router.post("request.sla_warning", summary="Yellow card (黄牌): 80% of a deadline has passed", responses=ACK)
def request_sla_warning(
    body: SlaEventBody,
    webhook_id: MessageId,
    webhook_timestamp: Timestamp,
    webhook_signature: StandardSignature,
    signature: Signature,
    event: Event,
    delivery: Delivery,
) -> None:
    """The SLA clock turned the request `warning`: 80% of the deadline in force (`phase`, `deadline`) has passed."""


@router.post("request.sla_overdue", summary="Red card (红牌): a deadline has passed", responses=ACK)
def request_sla_overdue(
    body: SlaEventBody,
    webhook_id: MessageId,
    webhook_timestamp: Timestamp,
    webhook_signature: StandardSignature,
    signature: Signature,
    event: Event,
    delivery: Delivery,
) -> None:
    """The deadline in force passed: the request is `overdue` and escalates one level (a `request.escalated`
    event follows)."""


@router.post("request.escalated", summary="Escalated one level up the org tree", responses=ACK)
def request_escalated(
    body: EscalatedEventBody,
    webhook_id: MessageId,
    webhook_timestamp: Timestamp,
    webhook_signature: StandardSignature,
    signature: Signature,
    event: Event,
    delivery: Delivery,
) -> None:
    """One step up: `overdue` (the red card's step, to the parent unit of where it is handled), `timed`
    (still overdue an escalation delay, default 24 h, after the last step: the next level, until the
    city) or `manual` (a handler or dispatcher escalated it). Key-group requests also name the leaders
    linked to the unit reached."""


@router.post("request.supervised", summary="Supervision order (督办) or reminder (催办)", responses=ACK)
def request_supervised(
    body: SupervisedEventBody,
    webhook_id: MessageId,
    webhook_timestamp: Timestamp,
    webhook_signature: StandardSignature,
    signature: Signature,
    event: Event,
    delivery: Delivery,
) -> None:
    """A supervisor issued a 督办 (`kind: order`, with `due_by` for the handling unit) or a 催办
    (`kind: reminder`) on the request."""


@router.post("alert.raised", summary="Hot spot alert (热点预警)", responses=ACK)
def alert_raised(
    body: AlertRaisedBody,
    webhook_id: MessageId,
    webhook_timestamp: Timestamp,
    webhook_signature: StandardSignature,
    signature: Signature,
    event: Event,
    delivery: Delivery,
) -> None:
    """An unusual surge of one top-level category in one community (`GET /v1/alerts`): sent to every
    subscriber of `alert.raised`."""


for _route in router.routes:
    if isinstance(_route, APIRoute):
        _route.description = f"{_route.description}\n{VERIFYING}"
