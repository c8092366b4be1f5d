"""SLA tables: the policies (deadlines per category and priority) and the admin's overrides of the official calendar."""

from datetime import date

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Date, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.models.org import PRIORITIES
from shared.orm import Base, TimestampMixin, one_of

SLA_UNITS = ("clock_hours", "working_hours", "working_days")


class CalendarDay(Base):
    """An admin's override of the official calendar: a holiday, or a working day (调休)."""

    __tablename__ = "calendar_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(String(200))


class SlaPolicy(TimestampMixin, Base):
    """Response and resolution deadlines for a category prefix and (optionally) a priority."""

    __tablename__ = "sla_policies"
    __table_args__ = (
        UniqueConstraint("category_prefix", "priority", postgresql_nulls_not_distinct=True),
        CheckConstraint(f"priority IS NULL OR {one_of('priority', PRIORITIES)}", name="priority"),
        CheckConstraint(one_of("respond_unit", SLA_UNITS), name="respond_unit"),
        CheckConstraint(one_of("resolve_unit", SLA_UNITS), name="resolve_unit"),
        CheckConstraint("respond_amount > 0 AND resolve_amount > 0", name="positive"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    category_prefix: Mapped[str] = mapped_column(String(64))
    priority: Mapped[str | None] = mapped_column(String(16))
    respond_amount: Mapped[float] = mapped_column(Numeric(8, 2, asdecimal=False))
    respond_unit: Mapped[str] = mapped_column(String(16))
    resolve_amount: Mapped[float] = mapped_column(Numeric(8, 2, asdecimal=False))
    resolve_unit: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
