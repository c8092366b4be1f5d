"""The administration audit trail: who changed what in the configuration, staff, keys and decisions, and when (append-only)."""
