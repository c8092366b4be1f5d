"""Organisation tables: the org-unit tree, handling units (departments, teams, members), the catalog."""

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.orm import Base, TimestampMixin, one_of

LEVELS = ("city", "district", "street", "community", "grid")
PRIORITIES = ("emergency", "high", "normal")
TEAM_ROLES = ("grid_worker", "social_worker", "party_member", "volunteer", "specialist", "department_staff")


class OrgUnit(TimestampMixin, Base):
    """A node of city > district > street > community > grid; grids carry their polygon."""

    __tablename__ = "org_units"
    __table_args__ = (
        CheckConstraint(one_of("level", LEVELS), name="level"),
        CheckConstraint("level <> 'grid' OR geometry IS NOT NULL", name="grid_has_geometry"),
        Index("ix_org_units_path_prefix", "path", postgresql_ops={"path": "text_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str | None] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id", ondelete="RESTRICT"), index=True)
    # Materialised path of codes ("/3302/330203/"): subtree scope checks are a prefix match.
    path: Mapped[str] = mapped_column(Text)
    geometry: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    min_lon: Mapped[float | None] = mapped_column(Float)
    min_lat: Mapped[float | None] = mapped_column(Float)
    max_lon: Mapped[float | None] = mapped_column(Float)
    max_lat: Mapped[float | None] = mapped_column(Float)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class Department(TimestampMixin, Base):
    """A functional department (职能部门) serving the whole city or one district."""

    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str | None] = mapped_column(String(200))
    scope_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id", ondelete="RESTRICT"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class Team(TimestampMixin, Base):
    """A grid's service team (服务团队); one per grid."""

    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    grid_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id", ondelete="RESTRICT"), unique=True)
    # Round robin among equally loaded members starts after this one.
    last_assigned_staff_id: Mapped[int | None] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class Member(TimestampMixin, Base):
    """A staff account's place in a grid team or a department, with its role and duty."""

    __tablename__ = "members"
    __table_args__ = (
        CheckConstraint("(team_id IS NULL) <> (department_id IS NULL)", name="one_home"),
        CheckConstraint(one_of("team_role", TEAM_ROLES), name="team_role"),
        UniqueConstraint("staff_id", "team_id"),
        UniqueConstraint("staff_id", "department_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_accounts.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"), index=True)
    team_role: Mapped[str] = mapped_column(String(32))
    on_duty: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class Category(TimestampMixin, Base):
    """A service catalog entry; its attributes become an Open311 service definition."""

    __tablename__ = "categories"
    __table_args__ = (CheckConstraint(one_of("default_priority", PRIORITIES), name="default_priority"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    parent_code: Mapped[str | None] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    default_priority: Mapped[str] = mapped_column(String(16), default="normal", server_default="normal")
    key_group: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    attributes: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list, server_default="[]")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
