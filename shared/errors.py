"""One error base class; the apps render it as RFC 9457 problem+json in one handler."""

from typing import Any


class AppError(Exception):
    """A failure the caller can act on. Subclasses name the situation."""

    status: int = 400
    title: str = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors or []
        self.headers = headers or {}


def field_error(loc: list[str | int] | str, msg: str, kind: str = "value_error") -> dict[str, Any]:
    """One entry of a problem's `errors[]`: where (a JSON path) and what is wrong."""
    path = loc if isinstance(loc, list) else [loc]
    return {"loc": path, "field": ".".join(str(p) for p in path), "msg": msg, "type": kind}


class InvalidInput(AppError):
    status = 422
    title = "Invalid input"


class NotAuthenticated(AppError):
    status = 401
    title = "Not authenticated"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(AppError):
    status = 403
    title = "Forbidden"


class CityAdminOnly(Forbidden):
    """City-wide configuration (catalog, SLA, keys) is for admins scoped to the whole city."""

    title = "City administrators only"


class NotFound(AppError):
    status = 404
    title = "Not found"


class Conflict(AppError):
    status = 409
    title = "Conflict"


class StaleVersion(Conflict):
    """The object changed since the caller read it (optimistic locking)."""


class PayloadTooLarge(AppError):
    status = 413
    title = "Payload too large"


class PreconditionRequired(AppError):
    status = 428
    title = "Precondition required"


class TooManyRequests(AppError):
    status = 429
    title = "Too many requests"


def check_version(current: int, expected: int | None) -> None:
    """Optimistic locking: the caller must name the version it read, and it must be current."""
    if expected is None:
        raise PreconditionRequired("Send the object's version (If-Match header or `version` field)")
    if expected != current:
        raise StaleVersion(f"The object changed (version {current}, you sent {expected}); read it again")
