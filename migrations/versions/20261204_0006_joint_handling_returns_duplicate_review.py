"""joint handling (co-unit tasks), returns with reasons and review, duplicate links by hand

* `co_tasks`: one row per co-unit (a grid team or a department) of a joint request (会办), with its own
  status, response deadline and reply. The departments already named in `requests.co_department_ids`
  get an `assigned` task each, so old joint requests keep working.
* `request_returns`: every return (退单) with its reason, proposal and fate (applied at once, pending a
  dispatcher's review, rejected, superseded).
* `requests.status` may be `return_review` (a return waiting for review).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_STATUSES = "('received', 'assigned', 'accepted', 'resolved', 'closed', 'needs_dispatch', 'suspended', 'duplicate')"
_NEW_STATUSES = (
    "('received', 'assigned', 'accepted', 'resolved', 'closed', 'needs_dispatch', 'suspended', 'duplicate',"
    " 'return_review')"
)


def _timestamp(name: str, *, nullable: bool = True, now: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        name, sa.DateTime(timezone=True), nullable=nullable, server_default=sa.text("now()") if now else None
    )


def upgrade() -> None:
    op.drop_constraint(op.f("ck_requests_status"), "requests", type_="check")
    op.create_check_constraint(op.f("ck_requests_status"), "requests", f"status IN {_NEW_STATUSES}")

    op.create_table(
        "co_tasks",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("team_id", sa.BigInteger(), nullable=True),
        sa.Column("department_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="assigned", nullable=False),
        _timestamp("respond_by", nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        _timestamp("created_at", nullable=False, now=True),
        _timestamp("accepted_at"),
        sa.Column("accepted_by", sa.BigInteger(), nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("reply_public", sa.Boolean(), server_default="false", nullable=False),
        _timestamp("replied_at"),
        sa.Column("replied_by", sa.BigInteger(), nullable=True),
        _timestamp("waived_at"),
        sa.Column("waived_by", sa.String(length=64), nullable=True),
        sa.Column("waive_reason", sa.Text(), nullable=True),
        _timestamp("cancelled_at"),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("(team_id IS NULL) <> (department_id IS NULL)", name=op.f("ck_co_tasks_one_unit")),
        sa.CheckConstraint(
            "status IN ('assigned', 'accepted', 'replied', 'waived', 'cancelled')", name=op.f("ck_co_tasks_status")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_co_tasks_request_id_requests"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_co_tasks_team_id_teams"), ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_co_tasks_department_id_departments"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["accepted_by"],
            ["staff_accounts.id"],
            name=op.f("fk_co_tasks_accepted_by_staff_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["replied_by"],
            ["staff_accounts.id"],
            name=op.f("fk_co_tasks_replied_by_staff_accounts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_co_tasks")),
    )
    op.create_index(op.f("ix_co_tasks_request_id"), "co_tasks", ["request_id"], unique=False)
    op.create_index(op.f("ix_co_tasks_team_id"), "co_tasks", ["team_id"], unique=False)
    op.create_index(op.f("ix_co_tasks_department_id"), "co_tasks", ["department_id"], unique=False)
    op.create_index(
        "uq_co_tasks_live_team",
        "co_tasks",
        ["request_id", "team_id"],
        unique=True,
        postgresql_where=sa.text("team_id IS NOT NULL AND status <> 'cancelled'"),
    )
    op.create_index(
        "uq_co_tasks_live_department",
        "co_tasks",
        ["request_id", "department_id"],
        unique=True,
        postgresql_where=sa.text("department_id IS NOT NULL AND status <> 'cancelled'"),
    )
    # Joint requests from before: each co-department gets its task, due with the request.
    op.execute(
        "INSERT INTO co_tasks (request_id, department_id, status, respond_by, created_by)"
        " SELECT r.id, d.id, 'assigned', r.resolve_by, 'system:migration'"
        " FROM requests r CROSS JOIN LATERAL unnest(r.co_department_ids) AS c(department_id)"
        " JOIN departments d ON d.id = c.department_id"
        " WHERE cardinality(r.co_department_ids) > 0"
        " ON CONFLICT DO NOTHING"
    )

    op.create_table(
        "request_returns",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("routing_no", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("proposed_category", sa.String(length=64), nullable=True),
        sa.Column("proposed_team_id", sa.BigInteger(), nullable=True),
        sa.Column("proposed_department_id", sa.BigInteger(), nullable=True),
        sa.Column("team_id", sa.BigInteger(), nullable=True),
        sa.Column("department_id", sa.BigInteger(), nullable=True),
        sa.Column("handler_id", sa.BigInteger(), nullable=True),
        sa.Column("from_status", sa.String(length=16), nullable=False),
        sa.Column("returned_by", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        _timestamp("created_at", nullable=False, now=True),
        _timestamp("decided_at"),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "reason IN ('not_ours', 'wrong_location', 'wrong_category')", name=op.f("ck_request_returns_reason")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'applied', 'rejected', 'superseded')", name=op.f("ck_request_returns_status")
        ),
        sa.CheckConstraint(
            "proposed_team_id IS NULL OR proposed_department_id IS NULL",
            name=op.f("ck_request_returns_one_proposed_unit"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_request_returns_request_id_requests"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["proposed_team_id"],
            ["teams.id"],
            name=op.f("fk_request_returns_proposed_team_id_teams"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["proposed_department_id"],
            ["departments.id"],
            name=op.f("fk_request_returns_proposed_department_id_departments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_request_returns_team_id_teams"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_request_returns_department_id_departments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["handler_id"],
            ["staff_accounts.id"],
            name=op.f("fk_request_returns_handler_id_staff_accounts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_returns")),
    )
    op.create_index(op.f("ix_request_returns_request_id"), "request_returns", ["request_id"], unique=False)
    op.create_index(
        "uq_request_returns_pending",
        "request_returns",
        ["request_id"],
        unique=True,
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("uq_request_returns_pending", table_name="request_returns")
    op.drop_index(op.f("ix_request_returns_request_id"), table_name="request_returns")
    op.drop_table("request_returns")
    op.drop_index("uq_co_tasks_live_department", table_name="co_tasks")
    op.drop_index("uq_co_tasks_live_team", table_name="co_tasks")
    op.drop_index(op.f("ix_co_tasks_department_id"), table_name="co_tasks")
    op.drop_index(op.f("ix_co_tasks_team_id"), table_name="co_tasks")
    op.drop_index(op.f("ix_co_tasks_request_id"), table_name="co_tasks")
    op.drop_table("co_tasks")
    # Requests waiting for a return review go back to the handling they had.
    op.execute(
        "UPDATE requests SET status = CASE WHEN accepted_at IS NULL THEN 'assigned' ELSE 'accepted' END"
        " WHERE status = 'return_review'"
    )
    op.drop_constraint(op.f("ck_requests_status"), "requests", type_="check")
    op.create_check_constraint(op.f("ck_requests_status"), "requests", f"status IN {_OLD_STATUSES}")
