"""Named errors of attachments, each mapped to an HTTP status by its base class."""

from shared.errors import AppError, Forbidden, InvalidInput, NotFound, PayloadTooLarge


class AttachmentRequestNotFound(NotFound):
    """The request is absent or outside the caller's scope (the same 404 as reading it)."""


class AttachmentNotFound(NotFound):
    pass


class UnsupportedFileType(AppError):
    status = 415
    title = "Unsupported file type"


class FileTooLarge(PayloadTooLarge):
    pass


class UnreadableFile(InvalidInput):
    pass


class TooManyFiles(InvalidInput):
    pass


class MayNotAttach(Forbidden):
    pass


class LinkMissing(AppError):
    """A download without a signature (the link is the credential: no header would do)."""

    status = 401
    title = "Not authenticated"


class LinkRefused(Forbidden):
    """A download link whose signature does not hold or whose time is up."""

    title = "Invalid or expired link"


class StorageUnavailable(AppError):
    """The object store did not answer (or refused us): retry later, nothing was written."""

    status = 503
    title = "Service unavailable"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or "The file store is unavailable; retry shortly", headers={"Retry-After": "5"})
