"""Errors of the webhooks domain."""

from shared.errors import Conflict, NotFound


class WebhookNotFound(NotFound):
    title = "Webhook subscription not found"


class TooManyWebhooks(Conflict):
    title = "Too many webhook subscriptions"
