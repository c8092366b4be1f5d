"""Errors of the SLA domain."""

from shared.errors import NotFound


class SlaPolicyNotFound(NotFound):
    title = "SLA policy not found"


class CalendarDayNotFound(NotFound):
    """No holiday or workday override for that day."""
