"""Errors of the supervision domain."""

from shared.errors import Conflict, NotFound


class ExtensionNotFound(NotFound):
    title = "Extension not found"


class NotSupervisable(Conflict):
    """Only an open request is supervised or reminded."""

    title = "Request not open"


class ExtensionNotAllowed(Conflict):
    """Extensions are for requests being worked on (accepted or suspended)."""

    title = "Extension not allowed"


class ExtensionPending(Conflict):
    """One pending application per request at a time."""

    title = "Extension already pending"


class ExtensionLimitReached(Conflict):
    title = "Too many extensions"


class ExtensionDecided(Conflict):
    """An application is approved or rejected once."""

    title = "Extension already decided"
