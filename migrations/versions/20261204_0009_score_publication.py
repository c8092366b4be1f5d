"""score publication (公示 only of published runs), corrected runs, revocable appeals

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 02:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Appeal decisions (and revocations) a run counts: up to this time (NULL: up to as_of). A corrected run
    # keeps its original's as_of and counts the decisions made since.
    op.add_column("score_runs", sa.Column("appeals_as_of", sa.DateTime(timezone=True), nullable=True))
    op.add_column("score_runs", sa.Column("published_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("score_runs", sa.Column("published_by", sa.String(length=64), nullable=True))
    op.add_column("score_runs", sa.Column("corrects_run_id", sa.BigInteger(), nullable=True))
    op.add_column("score_runs", sa.Column("superseded_by_id", sa.BigInteger(), nullable=True))
    op.add_column("score_runs", sa.Column("changes", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.create_foreign_key(
        op.f("fk_score_runs_corrects_run_id_score_runs"),
        "score_runs",
        "score_runs",
        ["corrects_run_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_foreign_key(
        op.f("fk_score_runs_superseded_by_id_score_runs"),
        "score_runs",
        "score_runs",
        ["superseded_by_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_check_constraint(
        op.f("ck_score_runs_published_when_done"), "score_runs", "published_at IS NULL OR status = 'done'"
    )
    op.create_index(
        "ix_score_runs_published",
        "score_runs",
        ["period", "as_of"],
        postgresql_where=sa.text("published_at IS NOT NULL"),
    )
    op.add_column("score_appeals", sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("score_appeals", sa.Column("revoked_by_id", sa.BigInteger(), nullable=True))
    op.add_column("score_appeals", sa.Column("revoke_reason", sa.Text(), nullable=True))
    op.create_foreign_key(
        op.f("fk_score_appeals_revoked_by_id_staff_accounts"),
        "score_appeals",
        "staff_accounts",
        ["revoked_by_id"],
        ["id"],
        ondelete="RESTRICT",
    )
    op.drop_constraint(op.f("ck_score_appeals_status"), "score_appeals", type_="check")
    op.create_check_constraint(
        op.f("ck_score_appeals_status"), "score_appeals", "status IN ('pending', 'approved', 'rejected', 'revoked')"
    )
    op.create_check_constraint(
        op.f("ck_score_appeals_revoked_when_revoked"),
        "score_appeals",
        "(status = 'revoked') = (revoked_at IS NOT NULL)",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_score_appeals_revoked_when_revoked"), "score_appeals", type_="check")
    op.drop_constraint(op.f("ck_score_appeals_status"), "score_appeals", type_="check")
    op.execute("UPDATE score_appeals SET status = 'rejected' WHERE status = 'revoked'")
    op.create_check_constraint(
        op.f("ck_score_appeals_status"), "score_appeals", "status IN ('pending', 'approved', 'rejected')"
    )
    op.drop_constraint(op.f("fk_score_appeals_revoked_by_id_staff_accounts"), "score_appeals", type_="foreignkey")
    op.drop_column("score_appeals", "revoke_reason")
    op.drop_column("score_appeals", "revoked_by_id")
    op.drop_column("score_appeals", "revoked_at")
    op.drop_index("ix_score_runs_published", table_name="score_runs")
    op.drop_constraint(op.f("ck_score_runs_published_when_done"), "score_runs", type_="check")
    op.drop_constraint(op.f("fk_score_runs_superseded_by_id_score_runs"), "score_runs", type_="foreignkey")
    op.drop_constraint(op.f("fk_score_runs_corrects_run_id_score_runs"), "score_runs", type_="foreignkey")
    for column in ("changes", "superseded_by_id", "corrects_run_id", "published_by", "published_at", "appeals_as_of"):
        op.drop_column("score_runs", column)
