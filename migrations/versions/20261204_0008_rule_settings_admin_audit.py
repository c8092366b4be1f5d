"""configurable rule settings, the administration audit trail

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Hot-spot windows are configurable now: each alert keeps its own end.
    op.add_column("hotspot_alerts", sa.Column("window_end", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "rule_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_rule_settings_singleton")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_settings")),
    )
    op.create_table(
        "admin_audit",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("actor_name", sa.String(length=100), nullable=True),
        sa.Column("actor_scope", sa.Text(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_kind", sa.String(length=32), nullable=False),
        sa.Column("target_id", sa.String(length=100), nullable=True),
        sa.Column("before", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("after", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("client_ip", sa.String(length=64), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_audit")),
    )
    op.create_index("ix_admin_audit_occurred_at", "admin_audit", ["occurred_at"])
    op.create_index(
        "ix_admin_audit_action_prefix", "admin_audit", ["action"], postgresql_ops={"action": "text_pattern_ops"}
    )
    op.create_index("ix_admin_audit_actor", "admin_audit", ["actor"])
    # Append-only, like the request trail: the database itself refuses updates and deletes.
    op.execute(
        """
        CREATE FUNCTION admin_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'admin_audit is append-only';
        END $$;
        """
    )
    op.execute(
        "CREATE TRIGGER admin_audit_append_only BEFORE UPDATE OR DELETE ON admin_audit "
        "FOR EACH ROW EXECUTE FUNCTION admin_audit_append_only()"
    )


def downgrade() -> None:
    op.drop_column("hotspot_alerts", "window_end")
    op.execute("DROP TRIGGER IF EXISTS admin_audit_append_only ON admin_audit")
    op.execute("DROP FUNCTION IF EXISTS admin_audit_append_only()")
    op.drop_index("ix_admin_audit_actor", table_name="admin_audit")
    op.drop_index(
        "ix_admin_audit_action_prefix", table_name="admin_audit", postgresql_ops={"action": "text_pattern_ops"}
    )
    op.drop_index("ix_admin_audit_occurred_at", table_name="admin_audit")
    op.drop_table("admin_audit")
    op.drop_table("rule_settings")
