"""retention (issue 17 item 2): a log of the pruning runs, and when a request's citizen data was erased

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "retention_runs",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("counts", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("settings", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_runs")),
    )
    op.add_column("requests", sa.Column("pii_erased_at", sa.DateTime(timezone=True), nullable=True))
    # The erasure's candidates: closed requests whose citizen data is still held, by closing time.
    op.create_index(
        "ix_requests_pii_held_closed_at",
        "requests",
        ["closed_at"],
        postgresql_where=sa.text(
            "closed_at IS NOT NULL AND pii_erased_at IS NULL "
            "AND (citizen_name_enc IS NOT NULL OR citizen_phone_enc IS NOT NULL)"
        ),
    )
    op.create_index(
        "ix_webhook_deliveries_done_created",
        "webhook_deliveries",
        ["created_at"],
        postgresql_where=sa.text("state <> 'pending'"),
    )
    op.create_index(
        "ix_outbox_processed_at", "outbox", ["processed_at"], postgresql_where=sa.text("processed_at IS NOT NULL")
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_processed_at", table_name="outbox")
    op.drop_index("ix_webhook_deliveries_done_created", table_name="webhook_deliveries")
    op.drop_index("ix_requests_pii_held_closed_at", table_name="requests")
    op.drop_column("requests", "pii_erased_at")
    op.drop_table("retention_runs")
