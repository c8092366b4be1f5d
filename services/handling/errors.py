"""Errors of the handling domain."""

from shared.errors import Conflict, NotFound


class IllegalTransition(Conflict):
    title = "Illegal transition"


class AlreadyClassified(Conflict):
    """Only a request whose category is `unknown` is classified."""


class NotYetResolved(Conflict):
    """Only a resolved request can be evaluated."""


class AlreadyEvaluated(Conflict):
    title = "Already evaluated"


class CoTasksOpen(Conflict):
    """The lead resolves only when every co-unit has replied or a dispatcher waived its part."""

    title = "Co-unit tasks still open"


class CoTaskNotFound(NotFound):
    title = "No such co-unit task"


class ReturnPending(Conflict):
    """A return already waits for a dispatcher's review."""

    title = "Return under review"


class NotADuplicateLink(Conflict):
    """Linking or unlinking duplicates: the two requests do not allow it (closed, itself, a loop)."""

    title = "Cannot link these requests"
