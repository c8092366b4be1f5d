"""duplicate search: (category_code, lat, lon) instead of (category_code, lat)

The nearby-duplicate prefilter is one box query per intake request. On stale statistics (a
table growing fast, autovacuum behind) the planner took (category_code, received_at) for it
and read every request of the category from the last 72 hours; with lon in the index, the box
index is its choice whatever the statistics.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 00:15:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_requests_category_lat_lon", "requests", ["category_code", "lat", "lon"], unique=False)
    op.drop_index("ix_requests_category_lat", table_name="requests")


def downgrade() -> None:
    op.create_index("ix_requests_category_lat", "requests", ["category_code", "lat"], unique=False)
    op.drop_index("ix_requests_category_lat_lon", table_name="requests")
