"""Named errors of the messages domain."""

from shared.errors import Conflict, NotAuthenticated, NotFound


class MessageNotFound(NotFound):
    title = "Message not found"


class InvitationNotFound(NotFound):
    title = "Feedback invitation not found"


class MessageNotFailed(Conflict):
    title = "Only a failed message can be retried"


class BadGatewaySignature(NotAuthenticated):
    title = "Not signed by the SMS gateway"
