"""Who may do what with scores: read (any staff), schemes (admins), runs, verification, appeals."""

from services.identity.auth import ADMINS, STAFF
from shared.auth import Principal, StaffRole
from shared.errors import Forbidden

__all__ = ["ADMINS", "DECIDERS", "READERS", "RUNNERS", "VERIFIERS", "check_may_appeal"]

READERS: frozenset[StaffRole] = STAFF  # scores, rankings, runs and appeals are read by every staff role
# Starting runs and deciding appeals: the evaluation office (supervisors) and admins; auditors also verify.
RUNNERS: frozenset[StaffRole] = frozenset({"admin", "supervisor"})
VERIFIERS: frozenset[StaffRole] = frozenset({"admin", "supervisor", "auditor"})
DECIDERS: frozenset[StaffRole] = frozenset({"admin", "supervisor"})


def check_may_appeal(principal: Principal, *, is_unit_member: bool) -> None:
    """A handling unit's own staff appeal for it; an admin may appeal for any unit in scope."""
    if not is_unit_member and principal.role not in ADMINS:
        raise Forbidden("Only the handling unit's own staff (or an admin) may appeal for it")
