"""Errors of the intake domain."""

from shared.errors import Forbidden, NotFound


class RequestNotFound(NotFound):
    title = "Request not found"


class ChannelNotAllowed(Forbidden):
    title = "Channel not allowed"
