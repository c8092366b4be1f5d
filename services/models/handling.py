"""Handling tables: the citizen's evaluations (民情评议), co-unit tasks of joint handling (会办), returns (退单)."""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.orm import Base, one_of


class Feedback(Base):
    """The citizen's evaluation of one resolution: resolved or not, and how satisfied."""

    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("request_id", "resolution_no"),
        CheckConstraint("satisfaction IN ('satisfied', 'basically_satisfied', 'dissatisfied')", name="satisfaction"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"), index=True)
    # Which resolution it judges (1 for the first, 2 after a reopen): one evaluation per resolution.
    resolution_no: Mapped[int] = mapped_column(Integer)
    resolved: Mapped[bool] = mapped_column(Boolean)
    satisfaction: Mapped[str] = mapped_column(String(24))
    comment: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(64))  # citizen | key:<id> (follow-up call agent)
    # The lead handling unit judged (for scoring): copied from the request at the time.
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="SET NULL"))
    handler_id: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"), index=True)


# ---- joint handling (会办) -----------------------------------------------------------------------

CO_TASK_STATUSES = ("assigned", "accepted", "replied", "waived", "cancelled")
# A co-unit's task is live (it sees the request, the lead waits for it) unless it was cancelled.
LIVE_CO_TASK_STATUSES = ("assigned", "accepted", "replied", "waived")
# The lead may resolve only when no task is still open.
OPEN_CO_TASK_STATUSES = ("assigned", "accepted")


class CoTask(Base):
    """One co-unit's part of a joint request (协办): a grid team or a department, its own status, deadline and reply."""

    __tablename__ = "co_tasks"
    __table_args__ = (
        CheckConstraint("(team_id IS NULL) <> (department_id IS NULL)", name="one_unit"),
        CheckConstraint(one_of("status", CO_TASK_STATUSES), name="status"),
        # One live task per unit and request (a cancelled one may be followed by a new one).
        Index(
            "uq_co_tasks_live_team",
            "request_id",
            "team_id",
            unique=True,
            postgresql_where=text("team_id IS NOT NULL AND status <> 'cancelled'"),
        ),
        Index(
            "uq_co_tasks_live_department",
            "request_id",
            "department_id",
            unique=True,
            postgresql_where=text("department_id IS NOT NULL AND status <> 'cancelled'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="RESTRICT"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="assigned", server_default="assigned")
    respond_by: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))  # staff:<id> (a dispatcher) or system:routing (a joint rule)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    accepted_at: Mapped[datetime | None]
    accepted_by: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id", ondelete="SET NULL"))
    reply: Mapped[str | None] = mapped_column(Text)
    reply_public: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    replied_at: Mapped[datetime | None]
    replied_by: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id", ondelete="SET NULL"))
    waived_at: Mapped[datetime | None]
    waived_by: Mapped[str | None] = mapped_column(String(64))
    waive_reason: Mapped[str | None] = mapped_column(Text)
    cancelled_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


# ---- returns (退单) and their review (退单审核) ------------------------------------------------------

RETURN_REASONS = ("not_ours", "wrong_location", "wrong_category")
# pending: waits for a dispatcher's review; applied: took effect (at once, or confirmed by the review);
# rejected: the reviewer sent it back to the unit; superseded: a dispatcher reassigned or linked it meanwhile.
RETURN_STATUSES = ("pending", "applied", "rejected", "superseded")


class RequestReturn(Base):
    """One return of a request by its handling unit: why, what it proposes, and what became of it."""

    __tablename__ = "request_returns"
    __table_args__ = (
        CheckConstraint(one_of("reason", RETURN_REASONS), name="reason"),
        CheckConstraint(one_of("status", RETURN_STATUSES), name="status"),
        CheckConstraint("proposed_team_id IS NULL OR proposed_department_id IS NULL", name="one_proposed_unit"),
        Index("uq_request_returns_pending", "request_id", unique=True, postgresql_where=text("status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"), index=True)
    # The routing it gives back (the request's routing_no then): its proposal is for the routing after it.
    routing_no: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    proposed_category: Mapped[str | None] = mapped_column(String(64))
    proposed_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    proposed_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="SET NULL"))
    # Who gave it back: the unit (team or department), the handler, and the status it was in.
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="SET NULL"))
    handler_id: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id", ondelete="SET NULL"))
    from_status: Mapped[str] = mapped_column(String(16))
    returned_by: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decision_note: Mapped[str | None] = mapped_column(Text)
