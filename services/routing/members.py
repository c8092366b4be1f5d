"""Choosing the handler in a grid team: least open load among those on duty, ties by round robin."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Candidate:
    staff_id: int
    on_duty: bool
    open_assignments: int


def choose_member(candidates: list[Candidate], last_assigned: int | None, exclude: frozenset[int]) -> int | None:
    """The on-duty member (not excluded) with the fewest open assignments; among equals, the first
    staff id after `last_assigned` in id order (wrapping round). None: nobody on duty (team queue)."""
    eligible = [c for c in candidates if c.on_duty and c.staff_id not in exclude]
    if not eligible:
        return None
    least = min(c.open_assignments for c in eligible)
    tied = sorted(c.staff_id for c in eligible if c.open_assignments == least)
    if last_assigned is None:
        return tied[0]
    after = [staff_id for staff_id in tied if staff_id > last_assigned]
    return after[0] if after else tied[0]
