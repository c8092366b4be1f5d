"""trail seals: signed, hash-linked records of the heads of the request trails and of the admin audit rows

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 04:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "trail_seals",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("seal_no", sa.BigInteger(), nullable=False),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False),
        sa.Column("last_audit_id", sa.BigInteger(), nullable=False),
        sa.Column("leaves", sa.Integer(), nullable=False),
        sa.Column("root", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trail_seals")),
        sa.UniqueConstraint("seal_no", name=op.f("uq_trail_seals_seal_no")),
    )
    op.create_table(
        "trail_seal_leaves",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("seal_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("kind IN ('request', 'admin_audit')", name=op.f("ck_trail_seal_leaves_kind")),
        sa.ForeignKeyConstraint(
            ["seal_id"], ["trail_seals.id"], name=op.f("fk_trail_seal_leaves_seal_id_trail_seals"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trail_seal_leaves")),
    )
    op.create_index("ix_trail_seal_leaves_seal_id", "trail_seal_leaves", ["seal_id"])
    op.create_index("ix_trail_seal_leaves_subject", "trail_seal_leaves", ["kind", "subject_id", "seq"])


def downgrade() -> None:
    op.drop_index("ix_trail_seal_leaves_subject", table_name="trail_seal_leaves")
    op.drop_index("ix_trail_seal_leaves_seal_id", table_name="trail_seal_leaves")
    op.drop_table("trail_seal_leaves")
    op.drop_table("trail_seals")
