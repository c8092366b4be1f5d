"""Who may do what with staff accounts and the admin pages: the role sets every app's dependencies use."""

from shared.auth import STAFF_ROLES, StaffRole

# Any staff account (integrations are not staff).
STAFF: frozenset[StaffRole] = frozenset(STAFF_ROLES)
# The admin pages (org tree, staff, keys, rules, catalog, calendar, SLA policies, leader links).
ADMINS: frozenset[StaffRole] = frozenset({"admin"})
