"""Handling tables: the citizen's evaluations (民情评议)."""

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.orm import Base


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
