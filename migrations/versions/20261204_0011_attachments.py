"""attachments (issue 16 item 1)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 04:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "attachments",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("target", sa.String(length=16), nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=True),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("has_thumbnail", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("metadata_kept", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("public_token", sa.String(length=64), nullable=True),
        sa.Column("uploaded_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("target IN ('request', 'note', 'reply', 'resolution')", name=op.f("ck_attachments_target")),
        sa.CheckConstraint(
            "(target = 'request') = (event_seq IS NULL)", name=op.f("ck_attachments_event_for_trail_targets")
        ),
        sa.CheckConstraint("size_bytes > 0", name=op.f("ck_attachments_size_positive")),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_attachments_request_id_requests"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_attachments_storage_key")),
    )
    op.create_index("ix_attachments_request_id_id", "attachments", ["request_id", "id"])
    op.create_index(
        "uq_attachments_public_token",
        "attachments",
        ["public_token"],
        unique=True,
        postgresql_where=sa.text("public_token IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_attachments_public_token", table_name="attachments")
    op.drop_index("ix_attachments_request_id_id", table_name="attachments")
    op.drop_table("attachments")
