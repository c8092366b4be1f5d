"""Errors of the routing domain."""

from shared.errors import NotFound


class RuleNotFound(NotFound):
    title = "Responsibility rule not found"


class LeaderLinkNotFound(NotFound):
    """No leader link of that id in the caller's subtree."""
