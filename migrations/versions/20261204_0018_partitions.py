"""requests and their events partitioned by month (issue 17, item 5)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 15:10:00.000000

`requests` is partitioned by RANGE (id) and `request_events` by RANGE (request_id) with the same bounds, so a
request and its trail share a partition and every key that references a request (17 foreign keys, the trail's
`(request_id, seq)`) stays a plain constraint. A month's partition holds the ids issued in it: month m
(counted from 2020-01) owns ids [m·10¹⁰, (m+1)·10¹⁰), and at each month's start the partition job
(services/lifecycle/partitions.py, hourly) moves `requests_id_seq` to the month's first id, after creating the
next month's partitions ahead of time. Ids stay plain bigints, ordered by time, far below 2⁵³.

The migration path for an existing database, without copying a row: the table is renamed `*_legacy` and
attached as the partition of every id below the next month's first (a CHECK added first, so the attach does
not scan again); the same-named indexes and constraints are attached, not rebuilt. Two keys cannot be
global on a partitioned table and change:
* `tracking_no` unique → a registry table `tracking_numbers` (primary key), which the intake inserts into in
  the same statement as the request (`ON CONFLICT DO NOTHING`, as before); `requests.tracking_no` keeps a
  plain index for lookups.
* `request_events.id` primary key → a plain index; `(request_id, seq)` stays unique.
On a year of data the migration builds those two indexes on the legacy partition and validates the foreign
keys that now point at the partitioned table (minutes; plan the upgrade). Until the first month's start after
the upgrade, new requests go on filling the legacy partition.

Two indexes on the running deadline (status or SLA standing, deadline, id) serve the dispatcher's lists by
due date (`?sort=due&status=…`, `?sla_state=overdue&sort=due`) in deadline order in every partition.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

from shared.settings import get_settings

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Keep in step with services/lifecycle/partitions.py (a migration imports no application code).
IDS_A_MONTH = 10**10
FIRST_YEAR = 2020


def _month_index(year: int, month: int) -> int:
    return (year - FIRST_YEAR) * 12 + month - 1


def _legacy_bound() -> tuple[int, int, int]:
    """(first id of next month, its year, its month), in the city's time zone."""
    tz = ZoneInfo(get_settings().timezone)
    now = datetime.now(UTC).astimezone(tz)
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return _month_index(year, month) * IDS_A_MONTH, year, month


def _rows(sql: str, **params: object) -> list[sa.Row[Any]]:
    return list(op.get_bind().execute(sa.text(sql), params))


def _partition(table: str, key: str, bound: int, *, plain_index_for: dict[str, str]) -> None:
    """Turn `table` into a table partitioned by RANGE (`key`) whose one partition is the old table.
    `plain_index_for`: unique constraints that cannot stay unique (they lack `key`) → the plain index for them."""
    legacy = f"{table}_legacy"
    constraints = _rows(
        "SELECT conname, contype::text AS contype, pg_get_constraintdef(oid) AS ddl FROM pg_constraint"
        " WHERE conrelid = CAST(:t AS regclass) AND conparentid = 0"  # not the clones of keys to partitions
        " ORDER BY array_position(ARRAY['p', 'u', 'c', 'f'], contype::text), conname",
        t=table,
    )
    indexes = _rows(
        "SELECT i.relname AS name, pg_get_indexdef(x.indexrelid) AS ddl FROM pg_index x"
        " JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = CAST(:t AS regclass)"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid AND c.conrelid = x.indrelid)",
        t=table,
    )
    triggers = _rows(
        "SELECT tgname, pg_get_triggerdef(oid) AS ddl FROM pg_trigger WHERE tgrelid = CAST(:t AS regclass)"
        " AND NOT tgisinternal",
        t=table,
    )
    referencing = _rows(
        "SELECT conrelid::regclass::text AS source, conname, pg_get_constraintdef(oid) AS ddl FROM pg_constraint"
        " WHERE confrelid = CAST(:t AS regclass) AND conrelid <> confrelid AND contype = 'f' AND conparentid = 0",
        t=table,
    )
    op.execute(f"ALTER TABLE {table} RENAME TO {legacy}")
    # Every definition above was read before the renames: it names the new parent. Index-backed names are the schema's: the legacy partition's take a suffix, the parent's keep theirs.
    for c in constraints:
        if c.contype in ("p", "u"):
            op.execute(f"ALTER TABLE {legacy} RENAME CONSTRAINT {c.conname} TO {c.conname}_legacy")
    for i in indexes:
        op.execute(f"ALTER INDEX {i.name} RENAME TO {i.name}_legacy")
    op.execute(
        f"CREATE TABLE {table} (LIKE {legacy} INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING CONSTRAINTS"
        f" INCLUDING STORAGE INCLUDING COMMENTS) PARTITION BY RANGE ({key})"
    )
    op.execute(f"ALTER SEQUENCE IF EXISTS {table}_id_seq OWNED BY {table}.id")
    for c in constraints:
        if c.contype == "c":
            continue  # copied by LIKE as they are (re-parsed, `= ANY (ARRAY[…])` would not compare equal)
        if c.conname in plain_index_for:
            op.execute(plain_index_for[c.conname])
        else:
            op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {c.conname} {c.ddl}")
    for i in indexes:
        op.execute(i.ddl)  # read before the renames: it names the new parent and the index's own name
    for t in triggers:
        op.execute(f"DROP TRIGGER {t.tgname} ON {legacy}")
        op.execute(t.ddl)
    # A key to the legacy table itself (duplicate_of_id) is the parent's now: the attach would add a second.
    for c in constraints:
        if c.contype == "f" and f"REFERENCES {table}(" in c.ddl:
            op.execute(f"ALTER TABLE {legacy} DROP CONSTRAINT {c.conname}")
    op.execute(f"ALTER TABLE {legacy} ADD CONSTRAINT ck_{legacy}_bound CHECK ({key} < {bound})")
    op.execute(f"ALTER TABLE {table} ATTACH PARTITION {legacy} FOR VALUES FROM (MINVALUE) TO ({bound})")
    op.execute(f"ALTER TABLE {legacy} DROP CONSTRAINT ck_{legacy}_bound")
    for name in plain_index_for:
        op.execute(f"ALTER TABLE {legacy} DROP CONSTRAINT {name}_legacy")
    for r in referencing:
        op.execute(f"ALTER TABLE {r.source} DROP CONSTRAINT {r.conname}")
        op.execute(f"ALTER TABLE {r.source} ADD CONSTRAINT {r.conname} {r.ddl} NOT VALID")
        op.execute(f"ALTER TABLE {r.source} VALIDATE CONSTRAINT {r.conname}")


def _month_partitions(year: int, month: int) -> None:
    low = _month_index(year, month) * IDS_A_MONTH
    high = low + IDS_A_MONTH
    suffix = f"y{year}m{month:02d}"
    op.execute(f"CREATE TABLE requests_{suffix} PARTITION OF requests FOR VALUES FROM ({low}) TO ({high})")
    op.execute(f"CREATE TABLE request_events_{suffix} PARTITION OF request_events FOR VALUES FROM ({low}) TO ({high})")


# The running deadline (services/lifecycle/notices.py DEADLINE, constants inline as it writes them): the
# dispatcher's "by due date" lists walk these in order in each partition instead of sorting a district's year.
_DEADLINE = (
    "(CASE WHEN (status IN ('received', 'assigned', 'needs_dispatch') OR status = 'return_review'"
    " AND accepted_at IS NULL) THEN respond_by ELSE resolve_by END)"
)
DEADLINE_INDEXES = (
    f"CREATE INDEX ix_requests_status_deadline ON requests (status, {_DEADLINE}, id)",
    f"CREATE INDEX ix_requests_standing_deadline ON requests (sla_state, {_DEADLINE}, id) WHERE sla_state <> 'ok'",
)


def upgrade() -> None:
    bound, year, month = _legacy_bound()
    op.execute(
        "CREATE TABLE tracking_numbers (tracking_no varchar(20) NOT NULL,"
        " CONSTRAINT pk_tracking_numbers PRIMARY KEY (tracking_no))"
    )
    op.execute("INSERT INTO tracking_numbers (tracking_no) SELECT tracking_no FROM requests")
    _partition(
        "requests",
        "id",
        bound,
        plain_index_for={"uq_requests_tracking_no": "CREATE INDEX ix_requests_tracking_no ON requests (tracking_no)"},
    )
    _partition(
        "request_events",
        "request_id",
        bound,
        plain_index_for={"pk_request_events": "CREATE INDEX ix_request_events_id ON request_events (id)"},
    )
    _month_partitions(year, month)
    for index in DEADLINE_INDEXES:
        op.execute(index)


def downgrade() -> None:
    raise NotImplementedError("0018 partitions requests and events; restore a backup taken before the upgrade")
