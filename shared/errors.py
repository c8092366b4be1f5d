"""One error base class; the apps render it as RFC 9457 problem+json in one handler."""

from typing import Any


class AppError(Exception):
    """A failure the caller can act on. Subclasses name the situation."""

    status: int = 400
    title: str = "Bad request"
    type: str = "about:blank"

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

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = self.errors
        return body


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


class NotFound(AppError):
    status = 404
    title = "Not found"


class Conflict(AppError):
    status = 409
    title = "Conflict"


class PayloadTooLarge(AppError):
    status = 413
    title = "Payload too large"


class ServiceUnavailable(AppError):
    status = 503
    title = "Service unavailable"

    def __init__(self, detail: str | None = None, retry_after: int = 5) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class PreconditionRequired(AppError):
    status = 428
    title = "Precondition required"


def check_version(current: int, expected: int | None) -> None:
    """Optimistic locking: the caller must name the version it read, and it must be current."""
    if expected is None:
        raise PreconditionRequired("Send the object's version (If-Match header or `version` field)")
    if expected != current:
        raise Conflict(f"The object changed (version {current}, you sent {expected}); read it again")
