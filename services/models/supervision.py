"""Supervision tables: where a request stands on the escalation ladder, supervision orders (督办) and
reminders (催办) issued on it, and deadline extension applications (延期申请)."""

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.orm import Base, TimestampMixin, one_of

ESCALATION_REASONS = ("overdue", "timed", "manual")
ORDER_KINDS = ("order", "reminder")
EXTENSION_STATUSES = ("pending", "approved", "rejected")


class Escalation(Base):
    """How far up the org tree a request has been escalated (one row per escalated request; each step
    is also an `escalated` event in the trail). Level 1 is the parent of the unit where it is handled."""

    __tablename__ = "request_escalations"
    __table_args__ = (
        CheckConstraint("level >= 1", name="level_positive"),
        CheckConstraint(one_of("reason", ESCALATION_REASONS), name="reason"),
    )

    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"), primary_key=True)
    level: Mapped[int] = mapped_column(Integer)
    # The unit it was last escalated to (its supervisors were told), and that unit's scope path.
    to_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id", ondelete="SET NULL"))
    to_path: Mapped[str] = mapped_column(Text)
    escalated_at: Mapped[datetime] = mapped_column(index=True)
    reason: Mapped[str] = mapped_column(String(16))  # what made the last step: overdue | timed | manual
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class SupervisionOrder(Base):
    """A supervision order (督办: a note and a deadline for the handling unit) or a reminder (催办: a note)."""

    __tablename__ = "supervision_orders"
    __table_args__ = (
        CheckConstraint(one_of("kind", ORDER_KINDS), name="kind"),
        CheckConstraint("(kind = 'order') = (due_by IS NOT NULL)", name="order_has_deadline"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text)
    # 督办 only: by when the handling unit must have it resolved (does not move the request's resolve_by).
    due_by: Mapped[datetime | None]
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id", ondelete="SET NULL"))
    # The handling unit it was addressed to, as the request stood when it was issued.
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="SET NULL"))
    handler_id: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class DeadlineExtension(TimestampMixin, Base):
    """A handler's application to move the resolution deadline, decided by a dispatcher or supervisor."""

    __tablename__ = "deadline_extensions"
    __table_args__ = (
        CheckConstraint(one_of("status", EXTENSION_STATUSES), name="status"),
        CheckConstraint("(status = 'approved') = (new_resolve_by IS NOT NULL)", name="approved_has_deadline"),
        CheckConstraint("(status = 'pending') = (decided_at IS NULL)", name="decided_when_not_pending"),
        # One pending application per request at a time.
        Index(
            "uq_deadline_extensions_pending_request",
            "request_id",
            unique=True,
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"), index=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text)
    proposed_resolve_by: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(Text)
    # The request's resolve_by when the application was made, and the one approved (approved only).
    old_resolve_by: Mapped[datetime]
    new_resolve_by: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
