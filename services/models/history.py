"""State history: what a request's scored columns and the org's rows were before each change, kept by
database triggers (migration 0010) so that every write path is covered. Scoring reads them to compute a
past `as_of` from the state as it was then (SPEC §7.5). Rows here are written only by the triggers."""

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.orm import Base


class RequestState(Base):
    """A request's scored columns as they were over [valid_from, valid_to) (valid_from NULL: since it was
    recorded); the state that began at valid_to is the next version, or the request's row itself."""

    __tablename__ = "request_states"
    __table_args__ = (
        Index("ix_request_states_request_id", "request_id"),
        Index("ix_request_states_received_valid_to", "received_at", "valid_to"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"))
    valid_from: Mapped[datetime | None]
    valid_to: Mapped[datetime]
    received_at: Mapped[datetime]
    category_code: Mapped[str] = mapped_column(String)
    duplicate_of_id: Mapped[int | None] = mapped_column(BigInteger)
    routing_no: Mapped[int] = mapped_column(Integer)
    lead_team_id: Mapped[int | None] = mapped_column(BigInteger)
    lead_department_id: Mapped[int | None] = mapped_column(BigInteger)
    handler_id: Mapped[int | None] = mapped_column(BigInteger)
    org_unit_id: Mapped[int | None] = mapped_column(BigInteger)
    respond_by: Mapped[datetime]
    resolve_by: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))
    suspended_at: Mapped[datetime | None]
    close_reason: Mapped[str | None] = mapped_column(String(24))
    closed_at: Mapped[datetime | None]


class OrgHistoryEntry(Base):
    """One org row (unit, team, department, member, staff account, leader link) as it was over
    [valid_from, valid_to), its kept columns as JSON; valid_from NULL: since it was recorded."""

    __tablename__ = "org_history"
    __table_args__ = (
        Index("ix_org_history_table_row", "table_name", "row_id", "valid_to"),
        Index("ix_org_history_table_valid_to", "table_name", "valid_to"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    table_name: Mapped[str] = mapped_column(String(64))
    row_id: Mapped[int] = mapped_column(BigInteger)
    valid_from: Mapped[datetime | None]
    valid_to: Mapped[datetime]
    row: Mapped[dict[str, Any]] = mapped_column(JSONB)
