"""Choosing a request's SLA policy and computing its deadlines."""

from dataclasses import dataclass
from datetime import datetime

from services.sla.calendar import DEFAULT_WARNING_SHARE, WorkCalendar


@dataclass(frozen=True, slots=True)
class PolicyTerms:
    id: int | None
    category_prefix: str
    priority: str | None
    respond_amount: float
    respond_unit: str
    resolve_amount: float
    resolve_unit: str


# SPEC §6 defaults, used when no configured policy matches at all.
BUILT_IN_GENERAL = PolicyTerms(None, "*", None, 2, "working_hours", 7, "working_days")


def prefix_matches(prefix: str, category: str) -> bool:
    return prefix == "*" or category == prefix or category.startswith(prefix + ".")


def specificity(prefix: str) -> int:
    """`*` < `env` < `env.noise`: more segments is more specific."""
    return 0 if prefix == "*" else prefix.count(".") + 1


def pick_policy(policies: list[PolicyTerms], category: str, priority: str) -> PolicyTerms:
    """A policy for this very priority beats one for any priority (an emergency is an emergency whatever
    its category); among those, the most specific category wins."""
    candidates = [p for p in policies if prefix_matches(p.category_prefix, category) and p.priority in (None, priority)]
    if not candidates:
        return BUILT_IN_GENERAL
    return max(candidates, key=lambda p: (p.priority is not None, specificity(p.category_prefix)))


WARNING_SHARE = DEFAULT_WARNING_SHARE  # the default; the calendar carries the share in force (rule settings)


@dataclass(frozen=True, slots=True)
class Deadlines:
    respond_by: datetime
    resolve_by: datetime
    respond_warn_at: datetime
    resolve_warn_at: datetime


def warning_time(calendar: WorkCalendar, start: datetime, deadline: datetime, unit: str) -> datetime:
    """When the calendar's warning share (80% by default) of the time from `start` to `deadline` has passed,
    counted in the deadline's own unit."""
    share = calendar.warning_share
    if unit == "clock_hours":
        return start + (deadline - start) * share
    allowed = calendar.working_minutes_between(start, deadline)
    return min(deadline, calendar.add_working_minutes(start, allowed * share))


def deadlines(calendar: WorkCalendar, terms: PolicyTerms, start: datetime) -> Deadlines:
    """Deadlines from `start`; the response is never due after the resolution."""
    resolve_by = calendar.deadline(start, terms.resolve_amount, terms.resolve_unit)
    respond_by = calendar.deadline(start, terms.respond_amount, terms.respond_unit)
    respond_unit = terms.respond_unit
    if respond_by > resolve_by:
        respond_by, respond_unit = resolve_by, terms.resolve_unit
    return Deadlines(
        respond_by=respond_by,
        resolve_by=resolve_by,
        respond_warn_at=warning_time(calendar, start, respond_by, respond_unit),
        resolve_warn_at=warning_time(calendar, start, resolve_by, terms.resolve_unit),
    )
