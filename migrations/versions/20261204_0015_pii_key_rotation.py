"""PII key rotation (issue 17 item 3): the rotation runs and their progress (services/intake/pii_rotation.py)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pii_rotations",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("state", sa.String(length=16), server_default="running", nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("hashes", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("hash_key_fingerprint", sa.String(length=16), nullable=True),
        sa.Column("batch", sa.Integer(), nullable=False),
        sa.Column("started_by", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("phase", sa.String(length=32), server_default="requests", nullable=False),
        sa.Column("pass_no", sa.Integer(), server_default="1", nullable=False),
        sa.Column("cursor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("pass_changed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("pass_skipped", sa.Integer(), server_default="0", nullable=False),
        sa.Column("counts", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("lease_token", sa.String(length=32), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claims", sa.Integer(), server_default="0", nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint("state IN ('running', 'done', 'failed')", name=op.f("ck_pii_rotations_state")),
        sa.CheckConstraint(
            "phase IN ('requests', 'feedback_invitations', 'citizen_messages', 'sms_replies')",
            name=op.f("ck_pii_rotations_phase"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pii_rotations")),
    )
    # At most one run at a time: two would fight over the cursor.
    op.create_index(
        "uq_pii_rotations_running",
        "pii_rotations",
        [sa.text("(true)")],
        unique=True,
        postgresql_where=sa.text("state = 'running'"),
    )


def downgrade() -> None:
    op.drop_index("uq_pii_rotations_running", table_name="pii_rotations")
    op.drop_table("pii_rotations")
