"""Routing tables: the responsibility matrix, assignments (one active per request), leaders' links to units."""

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.orm import Base, TimestampMixin, one_of

HANDLER_KINDS = ("grid_team", "department", "joint")


class Assignment(Base):
    """One routing decision: who handles the request. A reroute ends the active one and adds another."""

    __tablename__ = "assignments"
    __table_args__ = (
        # Exactly one active assignment per request, enforced by the database.
        Index("uq_assignments_active_request", "request_id", unique=True, postgresql_where=text("active")),
        Index("uq_assignments_request_routing", "request_id", "routing_no", unique=True),
        CheckConstraint("outcome IN ('assigned', 'needs_dispatch')", name="outcome"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"))
    routing_no: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="SET NULL"))
    co_department_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), default=list, server_default="{}")
    handler_id: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id", ondelete="SET NULL"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id", ondelete="SET NULL"))
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("responsibility_rules.id", ondelete="SET NULL"))
    reason: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(24))  # returned | reassigned | rerouted | reopened


class LeaderLink(TimestampMixin, Base):
    """A leader's link (逐级联系) to a unit or department, with contact quotas per month/quarter/year."""

    __tablename__ = "leader_links"
    __table_args__ = (
        CheckConstraint("(org_unit_id IS NULL) <> (department_id IS NULL)", name="one_target"),
        CheckConstraint("quota_month >= 0 AND quota_quarter >= 0 AND quota_year >= 0", name="quotas_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    leader_id: Mapped[int] = mapped_column(ForeignKey("staff_accounts.id", ondelete="CASCADE"), index=True)
    post: Mapped[str] = mapped_column(String(100))  # 职务, e.g. 区委书记
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"), index=True)
    quota_month: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    quota_quarter: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    quota_year: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ResponsibilityRule(TimestampMixin, Base):
    """One row of the responsibility matrix (职责清单): (category prefix, org unit) → handling unit."""

    __tablename__ = "responsibility_rules"
    __table_args__ = (
        UniqueConstraint("category_prefix", "org_unit_id"),
        CheckConstraint(one_of("handler_kind", HANDLER_KINDS), name="handler_kind"),
        CheckConstraint(
            "(handler_kind = 'grid_team' AND lead_department_id IS NULL AND cardinality(co_department_ids) = 0)"
            " OR (handler_kind = 'department' AND lead_department_id IS NOT NULL"
            " AND cardinality(co_department_ids) = 0)"
            " OR (handler_kind = 'joint' AND lead_department_id IS NOT NULL AND cardinality(co_department_ids) > 0)",
            name="handler_shape",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    # A category code or prefix; "*" matches every category.
    category_prefix: Mapped[str] = mapped_column(String(64))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id", ondelete="RESTRICT"), index=True)
    handler_kind: Mapped[str] = mapped_column(String(16))
    lead_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="RESTRICT"))
    co_department_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), default=list, server_default="{}")
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
