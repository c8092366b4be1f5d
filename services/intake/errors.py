"""Errors of the intake domain."""

from shared.errors import Conflict, Forbidden, NotFound


class RequestNotFound(NotFound):
    title = "Request not found"


class ChannelNotAllowed(Forbidden):
    title = "Channel not allowed"


class IdempotencyConflict(Conflict):
    title = "Idempotency key reused"


class AlreadyAssessed(Conflict):
    """One assessment per assessor, unit, period and source."""
