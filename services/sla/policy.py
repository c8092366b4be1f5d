"""Choosing a request's SLA policy and computing its deadlines."""

from dataclasses import dataclass
from datetime import datetime

from services.sla.calendar import WorkCalendar


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


def deadlines(calendar: WorkCalendar, terms: PolicyTerms, received_at: datetime) -> tuple[datetime, datetime]:
    """(respond_by, resolve_by); the response is never due after the resolution."""
    resolve_by = calendar.deadline(received_at, terms.resolve_amount, terms.resolve_unit)
    respond_by = calendar.deadline(received_at, terms.respond_amount, terms.respond_unit)
    return min(respond_by, resolve_by), resolve_by
