"""Scoring tables: versioned schemes, score runs and their stored results, and appeals (申诉/核减)."""

from datetime import datetime
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
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

# The tables the foreign keys below point at: registered whatever imported this module first (the scoring
# service imports no intake module of its own, and a flush resolves every foreign key of the metadata).
from shared.orm import Base, TimestampMixin, one_of

RUN_STATUSES = ("queued", "running", "done", "failed")
RUN_MODES = ("inline", "queued")
RESULT_LEVELS = ("city", "district", "street", "community", "grid", "department", "handler", "leader")
APPEAL_REASONS = ("unreasonable_demand", "not_responsible")
APPEAL_STATUSES = ("pending", "approved", "rejected", "revoked")


class ScoringScheme(Base):
    """One version of the scoring scheme (weights, points, thresholds, quotas); never edited, only superseded."""

    __tablename__ = "scoring_schemes"
    __table_args__ = (CheckConstraint("version >= 1", name="version_positive"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    name: Mapped[str] = mapped_column(String(100))
    notes: Mapped[str | None] = mapped_column(Text)
    document: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class ScoreRun(Base):
    """One computation of a period's scores under one scheme version and `as_of` time, with its progress."""

    __tablename__ = "score_runs"
    __table_args__ = (
        CheckConstraint(one_of("status", RUN_STATUSES), name="status"),
        CheckConstraint(one_of("mode", RUN_MODES), name="mode"),
        CheckConstraint("progress >= 0 AND progress <= 1", name="progress_range"),
        Index("ix_score_runs_period_status_as_of", "period", "status", "as_of"),
        CheckConstraint("published_at IS NULL OR status = 'done'", name="published_when_done"),
        Index("ix_score_runs_published", "period", "as_of", postgresql_where=text("published_at IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(String(7))
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    as_of: Mapped[datetime]
    scheme_version: Mapped[int] = mapped_column(
        ForeignKey("scoring_schemes.version", ondelete="RESTRICT", onupdate="RESTRICT")
    )
    status: Mapped[str] = mapped_column(String(16), default="queued", server_default="queued")
    mode: Mapped[str] = mapped_column(String(16))
    phase: Mapped[str] = mapped_column(String(32), default="queued", server_default="queued")
    progress: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    chunks_done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    chunks_total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cohort_size: Mapped[int | None] = mapped_column(BigInteger)
    results: Mapped[int | None] = mapped_column(Integer)
    # What every result of the run shares: the priors per level, the city's per-category baselines.
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    job_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    started_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # Appeal decisions and revocations counted up to this time (None: up to as_of). A corrected run keeps
    # the as_of of the run it corrects and counts the decisions made since.
    appeals_as_of: Mapped[datetime | None]
    # Publication (公示): only published runs are public. A corrected run names the run it corrects and lists
    # what changed ({level, code, figure, old, new}); the corrected run names its successor.
    published_at: Mapped[datetime | None]
    published_by: Mapped[str | None] = mapped_column(String(64))
    corrects_run_id: Mapped[int | None] = mapped_column(ForeignKey("score_runs.id", ondelete="SET NULL"))
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("score_runs.id", ondelete="SET NULL"))
    changes: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    # The org rows a run counts are those recorded by this time, each as it was at as_of (None: the run's
    # created_at; a corrected run keeps its original's). Whether the run kept its per-request facts.
    known_by: Mapped[datetime | None]
    facts_kept: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")


class ScoreResult(Base):
    """One subject's figures in one run: an org unit, a department, a handler or a leader."""

    __tablename__ = "score_results"
    __table_args__ = (
        UniqueConstraint("run_id", "level", "subject_code"),
        CheckConstraint(one_of("level", RESULT_LEVELS), name="level"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("score_runs.id", ondelete="CASCADE"), index=True)
    level: Mapped[str] = mapped_column(String(16))
    # Org unit code, department code, or a staff id (handlers, leaders).
    subject_code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    parent_code: Mapped[str | None] = mapped_column(String(64))
    # Scope path: the org unit's path, a department's scope unit path, a staff member's scope path.
    path: Mapped[str] = mapped_column(Text)
    rank: Mapped[int | None] = mapped_column(Integer)
    three_rate_score: Mapped[float | None] = mapped_column(Float)
    satisfaction_index: Mapped[float | None] = mapped_column(Float)
    cadre_score: Mapped[float | None] = mapped_column(Float)
    figures: Mapped[dict[str, Any]] = mapped_column(JSONB)


class ScoreAppeal(TimestampMixin, Base):
    """A handling unit's appeal (申诉/核减) against a request's inclusion in its rates; a supervisor decides."""

    __tablename__ = "score_appeals"
    __table_args__ = (
        CheckConstraint("(team_id IS NULL) <> (department_id IS NULL)", name="one_unit"),
        CheckConstraint(one_of("reason", APPEAL_REASONS), name="reason"),
        CheckConstraint(one_of("status", APPEAL_STATUSES), name="status"),
        CheckConstraint("(status = 'pending') = (decided_at IS NULL)", name="decided_when_not_pending"),
        CheckConstraint("(status = 'revoked') = (revoked_at IS NOT NULL)", name="revoked_when_revoked"),
        UniqueConstraint("request_id", "team_id", "department_id", postgresql_nulls_not_distinct=True),
        Index("ix_score_appeals_approved", "request_id", postgresql_where=text("status = 'approved'")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"))
    # The handling unit's place in the tree (grid path, or the department's scope path): scope checks.
    unit_path: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(32))
    explanation: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    filed_by_id: Mapped[int] = mapped_column(ForeignKey("staff_accounts.id", ondelete="RESTRICT"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id", ondelete="RESTRICT"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(Text)
    # An approved appeal revoked by a supervisor: runs counting decisions after this time no longer apply it.
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id", ondelete="RESTRICT"))
    revoke_reason: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class ScoreRunFact(Base):
    """Which requests of a run gave which facts: one row per combination of category and holders, with its
    rows as text (`id:flags` for a request's own row, `id.n:flags` for its assignment n, comma-separated;
    bit i of `flags` set when the row counts for `tally.FLAG_NAMES[i]`). A verification that does not
    match compares these with a recomputation to name the requests that moved."""

    __tablename__ = "score_run_facts"
    __table_args__ = (Index("ix_score_run_facts_run_id", "run_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("score_runs.id", ondelete="CASCADE"))
    category_code: Mapped[str] = mapped_column(String)
    response_unit: Mapped[int | None] = mapped_column(BigInteger)
    response_handler: Mapped[int | None] = mapped_column(BigInteger)
    final_unit: Mapped[int | None] = mapped_column(BigInteger)
    final_handler: Mapped[int | None] = mapped_column(BigInteger)
    assignment_unit: Mapped[int | None] = mapped_column(BigInteger)
    assignment_handler: Mapped[int | None] = mapped_column(BigInteger)
    rows: Mapped[str] = mapped_column(Text)
