"""Co-unit tasks of joint handling (会办): when a co-unit's reply is due.

Routing opens them for a joint rule's co-departments, and a dispatcher adds co-units by hand
(`services.handling.service.joint`); both take the deadline from here.
"""

from datetime import datetime

from services.sla.calendar import WorkCalendar

# A co-unit replies within this many working days of being asked, and never after the request's own
# resolution deadline (unless that has already passed).
CO_TASK_REPLY_WORKING_DAYS = 3


def co_task_deadline(calendar: WorkCalendar, asked_at: datetime, resolve_by: datetime) -> datetime:
    """When a co-unit asked at `asked_at` must reply."""
    due = calendar.deadline(asked_at, CO_TASK_REPLY_WORKING_DAYS, "working_days")
    return min(due, resolve_by) if resolve_by > asked_at else due
