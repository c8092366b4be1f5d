"""state history for reproducible scores: request states and org rows as they were, facts of each run

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 04:00:00.000000

Scores must recompute to the same value at any past `as_of` after any later work (SPEC §7.5). Two
triggers keep, for every change, the state it replaces with the interval it held:

- `request_states`: a request's scored columns (category, lead unit and handler, location, routing
  number, deadlines, acceptance, resolution, suspension, closure, duplicate link) before each change
  of one of them, valid over [valid_from, valid_to) (valid_from NULL: since the request was
  recorded). `requests.state_since` is when the current state began (NULL: since it was recorded).
- `org_history`: the scored columns of org units, teams, departments, members, staff accounts and
  leader links before each update or delete, as JSON, valid over [valid_from, valid_to).

Both record the transaction's time (`now()`): a change is part of the state from the moment its
transaction began, and several changes in one transaction leave one version, the one before it; a row
recorded and changed in one transaction (`recorded_in_xact`, the inserting transaction's id) keeps none.
`score_run_facts` keeps, per run, which requests gave which facts, so that a verification that does
not match can name the request that moved.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The columns of a request that scoring reads, kept in every version.
REQUEST_STATE_COLUMNS = (
    "received_at",
    "category_code",
    "duplicate_of_id",
    "routing_no",
    "lead_team_id",
    "lead_department_id",
    "handler_id",
    "org_unit_id",
    "respond_by",
    "resolve_by",
    "accepted_at",
    "resolved_at",
    "status",
    "suspended_at",
    "close_reason",
    "closed_at",
)

# Per org table: the columns kept in its history (scoring reads these; created_at bounds existence).
ORG_HISTORY_COLUMNS = {
    "org_units": ("code", "name", "level", "parent_id", "path", "created_at"),
    "teams": ("grid_unit_id", "name", "created_at"),
    "departments": ("code", "name", "scope_unit_id", "created_at"),
    "members": ("staff_id", "team_id", "department_id", "team_role", "created_at"),
    "staff_accounts": ("display_name", "scope_unit_id", "created_at"),
    "leader_links": (
        "leader_id",
        "post",
        "org_unit_id",
        "department_id",
        "quota_month",
        "quota_quarter",
        "quota_year",
        "created_at",
    ),
}

# The row was recorded (inserted) by the current transaction: `recorded_in_xact` defaults to the inserting
# transaction's id (NULL for rows recorded before this migration). Not the row's xmin: any earlier update in
# the transaction, of any column, would set that.
RECORDED_IN_XACT = "recorded_in_xact"
_WRITTEN_IN_THIS_TRANSACTION = f"OLD.{RECORDED_IN_XACT} = txid_current()"

_KEEP_REQUEST_STATE = f"""
CREATE FUNCTION keep_request_state() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed_at timestamptz := greatest(now(), OLD.state_since);
BEGIN
    -- The state replaced was written by this same transaction (the request was recorded in it, or its state
    -- already changed in it): no one else ever saw it, so there is nothing to keep.
    IF {_WRITTEN_IN_THIS_TRANSACTION} OR OLD.state_since IS NOT DISTINCT FROM changed_at THEN
        RETURN NEW;
    END IF;
    INSERT INTO request_states (request_id, valid_from, valid_to, {", ".join(REQUEST_STATE_COLUMNS)})
    VALUES (OLD.id, OLD.state_since, changed_at, {", ".join("OLD." + c for c in REQUEST_STATE_COLUMNS)});
    NEW.state_since := changed_at;
    RETURN NEW;
END
$$
"""

_KEEP_REQUEST_STATE_TRIGGER = f"""
CREATE TRIGGER keep_request_state BEFORE UPDATE ON requests FOR EACH ROW
WHEN ({" OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in REQUEST_STATE_COLUMNS)})
EXECUTE FUNCTION keep_request_state()
"""

# The trigger's arguments name the columns to keep. An update that changes none of them keeps nothing.
_KEEP_ORG_HISTORY = f"""
CREATE FUNCTION keep_org_history() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_row jsonb;
    new_row jsonb;
    since timestamptz;
BEGIN
    SELECT jsonb_object_agg(key, value) INTO old_row FROM jsonb_each(to_jsonb(OLD)) WHERE key = ANY(TG_ARGV);
    IF TG_OP = 'UPDATE' THEN
        SELECT jsonb_object_agg(key, value) INTO new_row FROM jsonb_each(to_jsonb(NEW)) WHERE key = ANY(TG_ARGV);
        IF old_row IS NOT DISTINCT FROM new_row THEN
            RETURN NEW;
        END IF;
    END IF;
    -- Recorded by this same transaction: never seen by anyone else, nothing to keep.
    IF {_WRITTEN_IN_THIS_TRANSACTION} THEN
        RETURN COALESCE(NEW, OLD);
    END IF;
    SELECT max(valid_to) INTO since FROM org_history WHERE table_name = TG_TABLE_NAME AND row_id = OLD.id;
    -- Already changed in this transaction: the version before the transaction is kept, once.
    IF since IS NULL OR since < now() THEN
        INSERT INTO org_history (table_name, row_id, valid_from, valid_to, row)
        VALUES (TG_TABLE_NAME, OLD.id, since, now(), old_row);
    END IF;
    RETURN COALESCE(NEW, OLD);
END
$$
"""


def upgrade() -> None:
    op.add_column("requests", sa.Column("state_since", sa.DateTime(timezone=True), nullable=True))
    for table in ("requests", *ORG_HISTORY_COLUMNS):
        # Added without a default, then given one: existing rows stay NULL and the table is not rewritten.
        op.add_column(table, sa.Column(RECORDED_IN_XACT, sa.BigInteger(), nullable=True))
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {RECORDED_IN_XACT} SET DEFAULT txid_current()")
    op.create_table(
        "request_states",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("category_code", sa.String(), nullable=False),
        sa.Column("duplicate_of_id", sa.BigInteger(), nullable=True),
        sa.Column("routing_no", sa.Integer(), nullable=False),
        sa.Column("lead_team_id", sa.BigInteger(), nullable=True),
        sa.Column("lead_department_id", sa.BigInteger(), nullable=True),
        sa.Column("handler_id", sa.BigInteger(), nullable=True),
        sa.Column("org_unit_id", sa.BigInteger(), nullable=True),
        sa.Column("respond_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolve_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("close_reason", sa.String(length=24), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_request_states_request_id_requests"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_states")),
    )
    op.create_index("ix_request_states_request_id", "request_states", ["request_id"])
    op.create_index("ix_request_states_received_valid_to", "request_states", ["received_at", "valid_to"])
    op.execute(_KEEP_REQUEST_STATE)
    op.execute(_KEEP_REQUEST_STATE_TRIGGER)

    op.create_table(
        "org_history",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("row_id", sa.BigInteger(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=False),
        sa.Column("row", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_history")),
    )
    op.create_index("ix_org_history_table_row", "org_history", ["table_name", "row_id", "valid_to"])
    op.create_index("ix_org_history_table_valid_to", "org_history", ["table_name", "valid_to"])
    op.execute(_KEEP_ORG_HISTORY)
    for table, columns in ORG_HISTORY_COLUMNS.items():
        arguments = ", ".join(f"'{c}'" for c in columns)
        op.execute(
            f"CREATE TRIGGER keep_org_history AFTER UPDATE OR DELETE ON {table} FOR EACH ROW "
            f"EXECUTE FUNCTION keep_org_history({arguments})"
        )

    op.create_table(
        "score_run_facts",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("category_code", sa.String(), nullable=False),
        sa.Column("response_unit", sa.BigInteger(), nullable=True),
        sa.Column("response_handler", sa.BigInteger(), nullable=True),
        sa.Column("final_unit", sa.BigInteger(), nullable=True),
        sa.Column("final_handler", sa.BigInteger(), nullable=True),
        sa.Column("assignment_unit", sa.BigInteger(), nullable=True),
        sa.Column("assignment_handler", sa.BigInteger(), nullable=True),
        sa.Column("rows", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["score_runs.id"], name=op.f("fk_score_run_facts_run_id_score_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_run_facts")),
    )
    op.create_index("ix_score_run_facts_run_id", "score_run_facts", ["run_id"])
    # Stored out of line without compression: written once per run in bulk, read only by verify.
    op.execute("ALTER TABLE score_run_facts ALTER COLUMN rows SET STORAGE EXTERNAL")
    op.add_column("score_runs", sa.Column("facts_kept", sa.Boolean(), server_default="false", nullable=False))
    op.add_column("score_runs", sa.Column("known_by", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("score_runs", "known_by")
    op.drop_column("score_runs", "facts_kept")
    op.drop_index("ix_score_run_facts_run_id", table_name="score_run_facts")
    op.drop_table("score_run_facts")
    for table in ORG_HISTORY_COLUMNS:
        op.execute(f"DROP TRIGGER keep_org_history ON {table}")
    op.execute("DROP FUNCTION keep_org_history()")
    op.drop_index("ix_org_history_table_valid_to", table_name="org_history")
    op.drop_index("ix_org_history_table_row", table_name="org_history")
    op.drop_table("org_history")
    op.execute("DROP TRIGGER keep_request_state ON requests")
    op.execute("DROP FUNCTION keep_request_state()")
    op.drop_index("ix_request_states_received_valid_to", table_name="request_states")
    op.drop_index("ix_request_states_request_id", table_name="request_states")
    op.drop_table("request_states")
    for table in ("requests", *ORG_HISTORY_COLUMNS):
        op.drop_column(table, RECORDED_IN_XACT)
    op.drop_column("requests", "state_since")
