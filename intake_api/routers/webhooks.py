"""Integrations' webhook subscriptions: signed event deliveries to their own HTTPS endpoints."""

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from intake_api.deps import CurrentPrincipal
from services.models import WebhookSubscription
from services.webhooks import service
from services.webhooks.schemas import DeliveryOut, DeliveryState, WebhookCreate, WebhookCreated, WebhookOut
from services.webhooks.service import DeliveryView
from shared.deps import SessionDep
from shared.pagination import Page
from shared.params import DEFAULT_LIMIT, Cursor, Limit
from shared.views import Rows
from shared.web.errors import problem_responses

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
Id = Annotated[int, Path(ge=1, le=2**62, description="The subscription's id")]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=WebhookCreated,
    responses=problem_responses(401, 403, 409, 413, 422),
)
async def create_webhook(session: SessionDep, principal: CurrentPrincipal, body: WebhookCreate) -> WebhookSubscription:
    """Subscribe your API key to events; the signing `secret` is in this answer only."""
    return await service.create_subscription(session, principal, body)


@router.get("", response_model=list[WebhookOut], responses=problem_responses(401, 403))
async def list_webhooks(session: SessionDep, principal: CurrentPrincipal) -> list[WebhookSubscription]:
    """List your API key's subscriptions (never their secrets)."""
    return await service.list_subscriptions(session, principal)


@router.delete(
    "/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(401, 403, 404, 422),
)
async def delete_webhook(session: SessionDep, principal: CurrentPrincipal, webhook_id: Id) -> Response:
    """Delete one of your subscriptions and the deliveries still owed to it."""
    await service.delete_subscription(session, principal, webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{webhook_id}/deliveries",
    response_model=Page[DeliveryOut],
    responses=problem_responses(401, 403, 404, 422),
)
async def list_webhook_deliveries(
    session: SessionDep,
    principal: CurrentPrincipal,
    webhook_id: Id,
    state: DeliveryState | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Rows[DeliveryView]:
    """List one subscription's deliveries, newest first, with their attempts and last error."""
    return await service.list_deliveries(session, principal, webhook_id, state=state, cursor=cursor, limit=limit)


DeliveryId = Annotated[int, Path(ge=1, le=2**62, description="The delivery's id")]


@router.post(
    "/{webhook_id}/ping",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryOut,
    responses=problem_responses(401, 403, 404, 422),
    summary="Send a test event (webhook.ping)",
)
async def ping_webhook(session: SessionDep, principal: CurrentPrincipal, webhook_id: Id) -> DeliveryView:
    """Queue a `webhook.ping` event (`{id, type, occurred_at, subscription_id}`) to this subscription, due at
    once and signed like every event: check your endpoint and your signature check with it, then follow it
    in the deliveries."""
    return DeliveryView(await service.ping(session, principal, webhook_id))


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryOut,
    responses=problem_responses(401, 403, 404, 422),
    summary="Send a delivery again",
)
async def redeliver_webhook(
    session: SessionDep, principal: CurrentPrincipal, webhook_id: Id, delivery_id: DeliveryId
) -> DeliveryView:
    """Send one of this subscription's deliveries again, delivered, failed or pending: a new delivery of the
    same event, with the same `webhook-id` (drop it if you have it), due at once and retried for 24 h."""
    return DeliveryView(await service.redeliver(session, principal, webhook_id, delivery_id))
