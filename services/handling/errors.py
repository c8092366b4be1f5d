"""Errors of the handling domain."""

from shared.errors import Conflict


class IllegalTransition(Conflict):
    title = "Illegal transition"


class AlreadyClassified(Conflict):
    """Only a request whose category is `unknown` is classified."""


class NotYetResolved(Conflict):
    """Only a resolved request can be evaluated."""


class AlreadyEvaluated(Conflict):
    title = "Already evaluated"
