"""Who may read the administration audit trail (and the rule settings): admins and auditors."""

from shared.auth import StaffRole

READERS: frozenset[StaffRole] = frozenset({"admin", "auditor"})
