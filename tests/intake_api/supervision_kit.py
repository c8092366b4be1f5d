"""What the supervision and extension tests share: supervisors up the small city's first branch, an
integration whose webhooks go to the fake receiver, and deliveries sent."""

from typing import Any

import pytest

from services.models import RequestEvent, StaffAccount
from services.webhooks.service import deliver_due, make_client
from shared.db import unit_of_work
from tests.factories import make_api_key, make_staff, make_subscription
from tests.kit import WebhookReceiver
from tests.settings import set_setting

SUPERVISION_EVENTS = (
    "request.status_changed",
    "request.sla_warning",
    "request.sla_overdue",
    "request.escalated",
    "request.supervised",
)
# Grid 0 of the small city: its community, street, district and the city, then the other district.
LADDER = ("330203001001", "330203001", "330203", "3302")


async def add_supervisors(session: Any, setup: dict[str, Any]) -> dict[str, StaffAccount]:
    """A supervisor at each level above grid 0 (by unit code) and one in the other district (`330205`)."""
    units = setup["units"]
    staff = {code: await make_staff(session, f"sup_{code}", "supervisor", units[code]) for code in LADDER}
    staff["330205"] = await make_staff(session, "sup_330205", "supervisor", units["330205"])
    return staff


async def hooked_integration(
    session: Any, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """An integration (hotline) that submits requests and subscribes to the request events at the receiver."""
    set_setting(monkeypatch, "webhook_allowed_hosts", ["127.0.0.1"])
    set_setting(monkeypatch, "webhook_allow_http", True)
    key, clear = await make_api_key(
        session, rights=("requests:create", "requests:read", "webhooks:manage"), channels=("hotline",)
    )
    await make_subscription(session, receiver.url("/hook"), key=key, event_types=SUPERVISION_EVENTS)
    return {"X-API-Key": clear}


async def deliver() -> None:
    async with make_client() as client:
        await deliver_due(unit_of_work, client)


def received(receiver: WebhookReceiver, event_type: str) -> list[dict[str, Any]]:
    """The bodies of the `event_type` events the receiver got."""
    import json

    bodies = [json.loads(r.body) for r in receiver.requests if r.headers.get("x-minqing-event") == event_type]
    # Deliveries are sent concurrently: in the order of the request's versions.
    return sorted(bodies, key=lambda b: (b.get("request_id", 0), b.get("version", 0)))


async def events_of(session: Any, request_id: int, kind: str | None = None) -> list[RequestEvent]:
    from sqlalchemy import select

    stmt = select(RequestEvent).where(RequestEvent.request_id == request_id).order_by(RequestEvent.seq)
    if kind is not None:
        stmt = stmt.where(RequestEvent.kind == kind)
    return list(await session.scalars(stmt))
