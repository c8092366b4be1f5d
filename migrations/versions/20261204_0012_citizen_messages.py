"""messages to citizens (issue 16 item 2)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 04:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feedback_invitations",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("resolution_no", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("token_enc", sa.LargeBinary(), nullable=False),
        sa.Column("reply_code", sa.String(length=8), nullable=False),
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["requests.id"],
            name=op.f("fk_feedback_invitations_request_id_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_invitations")),
        sa.UniqueConstraint(
            "request_id", "resolution_no", name=op.f("uq_feedback_invitations_request_id_resolution_no")
        ),
        sa.UniqueConstraint("token_hash", name=op.f("uq_feedback_invitations_token_hash")),
    )
    op.create_index(
        "ix_feedback_invitations_phone_open",
        "feedback_invitations",
        ["phone_hash", "id"],
        unique=False,
        postgresql_where=sa.text("used_at IS NULL"),
    )
    op.create_table(
        "citizen_messages",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("medium", sa.String(length=16), nullable=False),
        sa.Column("dedupe_key", sa.String(length=100), nullable=False),
        sa.Column("phone_hash", sa.String(length=64), nullable=True),
        sa.Column("variables", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("invitation_id", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("give_up_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_code", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("provider_message_id", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "event IN ('received', 'replied', 'resolved', 'reopened')", name=op.f("ck_citizen_messages_event")
        ),
        sa.CheckConstraint("medium <> 'sms' OR phone_hash IS NOT NULL", name=op.f("ck_citizen_messages_sms_has_phone")),
        sa.CheckConstraint("medium IN ('sms', 'webhook')", name=op.f("ck_citizen_messages_medium")),
        sa.CheckConstraint("state IN ('pending', 'sent', 'failed')", name=op.f("ck_citizen_messages_state")),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["feedback_invitations.id"],
            name=op.f("fk_citizen_messages_invitation_id_feedback_invitations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_citizen_messages_request_id_requests"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_citizen_messages")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_citizen_messages_dedupe_key")),
    )
    op.create_index(
        "ix_citizen_messages_due",
        "citizen_messages",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.create_index(
        "ix_citizen_messages_phone",
        "citizen_messages",
        ["phone_hash", "sent_at"],
        unique=False,
        postgresql_where=sa.text("phone_hash IS NOT NULL"),
    )
    op.create_index(op.f("ix_citizen_messages_request_id"), "citizen_messages", ["request_id"], unique=False)
    op.create_table(
        "sms_replies",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("gateway_message_id", sa.String(length=100), nullable=False),
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("answer", sa.String(length=32), nullable=True),
        sa.Column("invitation_id", sa.BigInteger(), nullable=True),
        sa.Column("request_id", sa.BigInteger(), nullable=True),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('recorded', 'already_evaluated', 'expired', 'no_invitation', 'unreadable')",
            name=op.f("ck_sms_replies_outcome"),
        ),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["feedback_invitations.id"],
            name=op.f("fk_sms_replies_invitation_id_feedback_invitations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_sms_replies_request_id_requests"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_replies")),
        sa.UniqueConstraint("gateway_message_id", name=op.f("uq_sms_replies_gateway_message_id")),
    )


def downgrade() -> None:
    op.drop_table("sms_replies")
    op.drop_index(op.f("ix_citizen_messages_request_id"), table_name="citizen_messages")
    op.drop_index("ix_citizen_messages_phone", table_name="citizen_messages")
    op.drop_index("ix_citizen_messages_due", table_name="citizen_messages")
    op.drop_table("citizen_messages")
    op.drop_index("ix_feedback_invitations_phone_open", table_name="feedback_invitations")
    op.drop_table("feedback_invitations")
