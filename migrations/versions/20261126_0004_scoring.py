"""scoring: schemes, runs, results, appeals

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 18:05:41.254026
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "scoring_schemes",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("document", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("version >= 1", name=op.f("ck_scoring_schemes_version_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scoring_schemes")),
        sa.UniqueConstraint("version", name=op.f("uq_scoring_schemes_version")),
    )
    op.create_table(
        "score_runs",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scheme_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="queued", nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("phase", sa.String(length=32), server_default="queued", nullable=False),
        sa.Column("progress", sa.Float(), server_default="0", nullable=False),
        sa.Column("chunks_done", sa.Integer(), server_default="0", nullable=False),
        sa.Column("chunks_total", sa.Integer(), server_default="0", nullable=False),
        sa.Column("cohort_size", sa.BigInteger(), nullable=True),
        sa.Column("results", sa.Integer(), nullable=True),
        sa.Column("summary", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("job_id", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("mode IN ('inline', 'queued')", name=op.f("ck_score_runs_mode")),
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name=op.f("ck_score_runs_status")),
        sa.CheckConstraint("progress >= 0 AND progress <= 1", name=op.f("ck_score_runs_progress_range")),
        sa.ForeignKeyConstraint(
            ["scheme_version"],
            ["scoring_schemes.version"],
            name=op.f("fk_score_runs_scheme_version_scoring_schemes"),
            onupdate="RESTRICT",
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_runs")),
    )
    op.create_index("ix_score_runs_period_status_as_of", "score_runs", ["period", "status", "as_of"], unique=False)
    op.create_table(
        "score_results",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("subject_code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("parent_code", sa.String(length=64), nullable=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("three_rate_score", sa.Float(), nullable=True),
        sa.Column("satisfaction_index", sa.Float(), nullable=True),
        sa.Column("cadre_score", sa.Float(), nullable=True),
        sa.Column("figures", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.CheckConstraint(
            "level IN ('city', 'district', 'street', 'community', 'grid', 'department', 'handler', 'leader')",
            name=op.f("ck_score_results_level"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["score_runs.id"], name=op.f("fk_score_results_run_id_score_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_results")),
        sa.UniqueConstraint("run_id", "level", "subject_code", name=op.f("uq_score_results_run_id_level_subject_code")),
    )
    op.create_index(op.f("ix_score_results_run_id"), "score_results", ["run_id"], unique=False)
    op.create_table(
        "score_appeals",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("team_id", sa.BigInteger(), nullable=True),
        sa.Column("department_id", sa.BigInteger(), nullable=True),
        sa.Column("unit_path", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("filed_by_id", sa.BigInteger(), nullable=False),
        sa.Column("decided_by_id", sa.BigInteger(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "(status = 'pending') = (decided_at IS NULL)", name=op.f("ck_score_appeals_decided_when_not_pending")
        ),
        sa.CheckConstraint(
            "reason IN ('unreasonable_demand', 'not_responsible')", name=op.f("ck_score_appeals_reason")
        ),
        sa.CheckConstraint("status IN ('pending', 'approved', 'rejected')", name=op.f("ck_score_appeals_status")),
        sa.CheckConstraint("(team_id IS NULL) <> (department_id IS NULL)", name=op.f("ck_score_appeals_one_unit")),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["staff_accounts.id"],
            name=op.f("fk_score_appeals_decided_by_id_staff_accounts"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_score_appeals_department_id_departments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["filed_by_id"],
            ["staff_accounts.id"],
            name=op.f("fk_score_appeals_filed_by_id_staff_accounts"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_score_appeals_request_id_requests"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_score_appeals_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_appeals")),
        sa.UniqueConstraint(
            "request_id",
            "team_id",
            "department_id",
            name=op.f("uq_score_appeals_request_id_team_id_department_id"),
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_index(
        "ix_score_appeals_approved",
        "score_appeals",
        ["request_id"],
        unique=False,
        postgresql_where=sa.text("status = 'approved'"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_score_appeals_approved", table_name="score_appeals", postgresql_where=sa.text("status = 'approved'")
    )
    op.drop_table("score_appeals")
    op.drop_index(op.f("ix_score_results_run_id"), table_name="score_results")
    op.drop_table("score_results")
    op.drop_index("ix_score_runs_period_status_as_of", table_name="score_runs")
    op.drop_table("score_runs")
    op.drop_table("scoring_schemes")
