"""Errors of the routing domain."""

from shared.errors import NotFound


class RuleNotFound(NotFound):
    title = "Responsibility rule not found"
