"""Tables of the request lifecycle: requests, their audit trail, the outbox, idempotency, visits, assessments."""

from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.models.org import PRIORITIES
from shared.orm import Base, TimestampMixin, one_of

CHANNELS = ("hotline", "web", "app", "window", "station", "visit")
# A request's status, the one list every schema names (`return_review`: a unit's return waits for a
# dispatcher's review, 退单审核, before it takes effect).
RequestStatus = Literal[
    "received",
    "assigned",
    "accepted",
    "resolved",
    "closed",
    "needs_dispatch",
    "suspended",
    "duplicate",
    "return_review",
]
STATUSES: tuple[str, ...] = get_args(RequestStatus)
OPEN_STATUSES = ("received", "assigned", "accepted", "needs_dispatch", "suspended", "return_review")
SLA_STATES = ("ok", "warning", "overdue")
COORD_SYSTEMS = ("wgs84", "gcj02", "bd09")
VISIT_KINDS = ("household", "leader_contact")
ASSESSMENT_SOURCES = ("resident_organisation", "public_opinion")


class Request(TimestampMixin, Base):
    """A request from the public (诉求), from any channel."""

    __tablename__ = "requests"
    __table_args__ = (
        CheckConstraint(one_of("channel", CHANNELS), name="channel"),
        CheckConstraint(one_of("status", STATUSES), name="status"),
        CheckConstraint(one_of("sla_state", SLA_STATES), name="sla_state"),
        CheckConstraint(one_of("priority", PRIORITIES), name="priority"),
        CheckConstraint(f"coord_system IS NULL OR {one_of('coord_system', COORD_SYSTEMS)}", name="coord_system"),
        CheckConstraint("(lat IS NULL) = (lon IS NULL)", name="lat_lon_together"),
        CheckConstraint("lat IS NULL OR (lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180)", name="lat_lon_range"),
        Index("ix_requests_unit_path_prefix", "unit_path", postgresql_ops={"unit_path": "text_pattern_ops"}),
        Index("ix_requests_category_received", "category_code", "received_at"),
        Index("ix_requests_phone_received", "citizen_phone_hash", "received_at"),
        Index("ix_requests_status_received", "status", "received_at"),
        Index("ix_requests_received_at", "received_at"),
        # The duplicate rule's nearby search: category, then the box (lat band, lon within it). The lon
        # column makes this index the planner's choice even on stale statistics (a fast-growing table).
        Index("ix_requests_category_lat_lon", "category_code", "lat", "lon"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    # Unique through `tracking_numbers` (a partitioned table has no global unique index but on its key).
    tracking_no: Mapped[str] = mapped_column(String(20), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    category_code: Mapped[str] = mapped_column(ForeignKey("categories.code", ondelete="RESTRICT", onupdate="CASCADE"))
    description: Mapped[str] = mapped_column(Text)
    priority: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="received", server_default="received")
    sla_state: Mapped[str] = mapped_column(String(16), default="ok", server_default="ok")
    # WGS84 after conversion; the coordinates as sent are kept beside them.
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    source_lat: Mapped[float | None] = mapped_column(Float)
    source_lon: Mapped[float | None] = mapped_column(Float)
    coord_system: Mapped[str | None] = mapped_column(String(8))
    address: Mapped[str | None] = mapped_column(String(500))
    # Where the request is: the unit named at intake (community or grid), later the routed grid.
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id", ondelete="RESTRICT"), index=True)
    # Scope path of that unit ("/" while unlocated): staff see requests under their subtree.
    unit_path: Mapped[str] = mapped_column(Text, default="/", server_default="/")
    citizen_name_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    citizen_phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    citizen_phone_hash: Mapped[str | None] = mapped_column(String(64))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    citizen_token_hash: Mapped[str] = mapped_column(String(64))
    media_urls: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list, server_default="{}")
    external_id: Mapped[str | None] = mapped_column(String(100))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    received_at: Mapped[datetime]
    respond_by: Mapped[datetime]
    resolve_by: Mapped[datetime]
    sla_policy_id: Mapped[int | None] = mapped_column(ForeignKey("sla_policies.id", ondelete="SET NULL"))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id", ondelete="RESTRICT"), index=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id", ondelete="SET NULL"), index=True)
    # Filled by routing: the lead handling unit (a grid team or a department) and the handler.
    lead_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), index=True)
    lead_department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL"), index=True
    )
    handler_id: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id", ondelete="SET NULL"), index=True)
    co_department_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), default=list, server_default="{}")
    routing_no: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    return_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reopen_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    resolution_no: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # When the SLA standing turns to warning (80% of the deadline in force), stored, not recomputed.
    respond_warn_at: Mapped[datetime | None]
    resolve_warn_at: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    suspended_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(16))  # resolved | explained | unresolvable
    public_reply: Mapped[str | None] = mapped_column(Text)
    # How it closed: satisfied, unsatisfied (second negative feedback), no_evaluation, with_original (duplicate).
    close_reason: Mapped[str | None] = mapped_column(String(24))
    created_by: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # When the current state of the scored columns began (NULL: since it was recorded); set by the trigger
    # that keeps the state before each change in request_states (migration 0010). Never written here.
    state_since: Mapped[datetime | None] = mapped_column(deferred=True)
    # When the retention sweep erased the citizen's name and phone (services/lifecycle/retention.py).
    pii_erased_at: Mapped[datetime | None]
    # Every note of the trail, one a line, for the search (services/search); kept by a trigger on
    # request_events (migration 0013), never written here.
    notes_text: Mapped[str | None] = mapped_column(Text, deferred=True)
    # description, address and notes normalised for search (generated by PostgreSQL, migration 0013, with
    # the GIN index over its characters); never written.
    search_body: Mapped[str | None] = mapped_column(
        Text, Computed("search_text(description, address, notes_text)", persisted=True), deferred=True
    )


class TrackingNumber(Base):
    """Every tracking number issued: its primary key keeps them unique across the partitions of `requests`
    (migration 0018); the intake inserts here in the statement that inserts the request."""

    __tablename__ = "tracking_numbers"

    tracking_no: Mapped[str] = mapped_column(String(20), primary_key=True)


class RequestEvent(Base):
    """One entry of a request's append-only, hash-chained audit trail."""

    __tablename__ = "request_events"
    __table_args__ = (UniqueConstraint("request_id", "seq"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="RESTRICT"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(100))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    public: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    occurred_at: Mapped[datetime]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class OutboxEntry(Base):
    """Work to hand to the worker, committed with the change that caused it; the relay re-sends it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "id", postgresql_where=text("processed_at IS NULL")),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(32))
    job_id: Mapped[str] = mapped_column(String(100), unique=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    processed_at: Mapped[datetime | None]


class IdempotencyKey(Base):
    """A caller's Idempotency-Key with the answer it got, kept 24 h."""

    __tablename__ = "idempotency_keys"

    owner: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    body_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSONB)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"), index=True)


class Visit(TimestampMixin, Base):
    """A grid worker's household visit (进门入户) or a leader's grassroots contact."""

    __tablename__ = "visits"
    __table_args__ = (CheckConstraint(one_of("kind", VISIT_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id", ondelete="RESTRICT"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_accounts.id", ondelete="RESTRICT"), index=True)
    visited_at: Mapped[datetime] = mapped_column(index=True)
    households: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    notes: Mapped[str | None] = mapped_column(Text)


class Assessment(TimestampMixin, Base):
    """A 0–100 score of an org unit for a period, by a resident organisation or a public-opinion survey."""

    __tablename__ = "assessments"
    __table_args__ = (
        CheckConstraint(one_of("source", ASSESSMENT_SOURCES), name="source"),
        CheckConstraint("score >= 0 AND score <= 100", name="score_range"),
        UniqueConstraint("org_unit_id", "period", "source", "assessor"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id", ondelete="RESTRICT"), index=True)
    period: Mapped[str] = mapped_column(String(7))
    source: Mapped[str] = mapped_column(String(32))
    assessor: Mapped[str] = mapped_column(String(200))
    score: Mapped[float] = mapped_column(Numeric(5, 2, asdecimal=False))
    respondents: Mapped[int | None] = mapped_column(Integer)
    notes: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("staff_accounts.id", ondelete="RESTRICT"))
