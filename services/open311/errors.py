"""Errors of the Open311 interface (rendered as the specification's error array)."""

from shared.errors import Forbidden, NotFound


class ApiKeyRefused(Forbidden):
    title = "api_key refused"


class JurisdictionNotFound(NotFound):
    title = "Jurisdiction not found"


class ServiceNotFound(NotFound):
    title = "Service not found"


class ServiceRequestNotFound(NotFound):
    title = "Service request not found"
