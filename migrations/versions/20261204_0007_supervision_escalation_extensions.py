"""supervision orders and reminders, escalation levels, deadline extensions

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "request_escalations",
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("to_unit_id", sa.BigInteger(), nullable=True),
        sa.Column("to_path", sa.Text(), nullable=False),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("level >= 1", name=op.f("ck_request_escalations_level_positive")),
        sa.CheckConstraint("reason IN ('overdue', 'timed', 'manual')", name=op.f("ck_request_escalations_reason")),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_request_escalations_request_id_requests"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["to_unit_id"],
            ["org_units.id"],
            name=op.f("fk_request_escalations_to_unit_id_org_units"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_request_escalations")),
    )
    op.create_index(op.f("ix_request_escalations_escalated_at"), "request_escalations", ["escalated_at"], unique=False)

    op.create_table(
        "supervision_orders",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("due_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("issued_by_id", sa.BigInteger(), nullable=True),
        sa.Column("team_id", sa.BigInteger(), nullable=True),
        sa.Column("department_id", sa.BigInteger(), nullable=True),
        sa.Column("handler_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("kind IN ('order', 'reminder')", name=op.f("ck_supervision_orders_kind")),
        sa.CheckConstraint(
            "(kind = 'order') = (due_by IS NOT NULL)", name=op.f("ck_supervision_orders_order_has_deadline")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_supervision_orders_department_id_departments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["handler_id"],
            ["staff_accounts.id"],
            name=op.f("fk_supervision_orders_handler_id_staff_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["issued_by_id"],
            ["staff_accounts.id"],
            name=op.f("fk_supervision_orders_issued_by_id_staff_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_supervision_orders_request_id_requests"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_supervision_orders_team_id_teams"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_orders")),
    )
    op.create_index(op.f("ix_supervision_orders_request_id"), "supervision_orders", ["request_id"], unique=False)

    op.create_table(
        "deadline_extensions",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("requested_by_id", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("proposed_resolve_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("decided_by_id", sa.BigInteger(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("old_resolve_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("new_resolve_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("status IN ('pending', 'approved', 'rejected')", name=op.f("ck_deadline_extensions_status")),
        sa.CheckConstraint(
            "(status = 'approved') = (new_resolve_by IS NOT NULL)",
            name=op.f("ck_deadline_extensions_approved_has_deadline"),
        ),
        sa.CheckConstraint(
            "(status = 'pending') = (decided_at IS NULL)", name=op.f("ck_deadline_extensions_decided_when_not_pending")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["staff_accounts.id"],
            name=op.f("fk_deadline_extensions_decided_by_id_staff_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_deadline_extensions_request_id_requests"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["staff_accounts.id"],
            name=op.f("fk_deadline_extensions_requested_by_id_staff_accounts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deadline_extensions")),
    )
    op.create_index(op.f("ix_deadline_extensions_request_id"), "deadline_extensions", ["request_id"], unique=False)
    op.create_index(
        "uq_deadline_extensions_pending_request",
        "deadline_extensions",
        ["request_id"],
        unique=True,
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("uq_deadline_extensions_pending_request", table_name="deadline_extensions")
    op.drop_index(op.f("ix_deadline_extensions_request_id"), table_name="deadline_extensions")
    op.drop_table("deadline_extensions")
    op.drop_index(op.f("ix_supervision_orders_request_id"), table_name="supervision_orders")
    op.drop_table("supervision_orders")
    op.drop_index(op.f("ix_request_escalations_escalated_at"), table_name="request_escalations")
    op.drop_table("request_escalations")
