"""The administration audit trail: who changed which configuration, when, and from what to what."""

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.orm import Base


class AdminAuditEntry(Base):
    """One administrative act (a login, a staff change, a rule, a setting, …). Append-only: the database
    refuses UPDATE and DELETE on the table (a trigger, migration 0008). Secrets are never stored."""

    __tablename__ = "admin_audit"
    __table_args__ = (
        Index("ix_admin_audit_occurred_at", "occurred_at"),
        Index("ix_admin_audit_action_prefix", "action", postgresql_ops={"action": "text_pattern_ops"}),
        Index("ix_admin_audit_actor", "actor"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # `staff:<id>`, `key:<id>`, `system:<what>` or `anonymous` (a failed login).
    actor: Mapped[str] = mapped_column(String(64))
    actor_name: Mapped[str | None] = mapped_column(String(100))
    # The actor's org-unit path when the act happened: readers below the city see their subtree's acts.
    actor_scope: Mapped[str | None] = mapped_column(Text)
    # `login.succeeded`, `staff.updated`, `settings.updated`, … (`<target kind>.<what happened>`).
    action: Mapped[str] = mapped_column(String(64))
    target_kind: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(100))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    client_ip: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
