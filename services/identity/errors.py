"""Errors of the identity domain."""

from shared.errors import NotFound, TooManyRequests


class StaffNotFound(NotFound):
    title = "Staff account not found"


class ApiKeyNotFound(NotFound):
    title = "API key not found"


class LoginLocked(TooManyRequests):
    """Too many failed logins for the account or the address: refused even with the right password."""
