"""search keys: the scope, category and status of a request, and days in blocks (issue 16, item 3)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 19:00:00.000000

Two costs of 0017's index on a year of requests: a district's or a category's search rechecked every match
of its words in the whole city (the scope was a filter on the rows, not a key of the index), and a rare
phrase's last steps back through the year asked the index for hundreds of day keys. `search_keys` now also
holds, per request, a key for every unit above it (`u/<city>/`, `u/<city>/<district>/`, …), for its
category and every category above it (`c环境`, `c环境.噪音`), for its status (`s<status>`), and its day of
receipt at three sizes: the day (`d…`), its block of 9 days (`e…`) and of 81 days (`f…`), so that any run
of days is asked for in at most a few dozen keys (services/search/repository.py `day_keys`).
Rebuilding the index reads `requests` once (minutes on a year of requests: docs/search.md).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The day of receipt (UTC day number, as `search_day` counts it) and its blocks of 9 and 81 days.
_DAYS = """
CREATE FUNCTION public.search_days(received_at timestamptz) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT ARRAY['d' || d, 'e' || floor(d / 9.0)::bigint, 'f' || floor(d / 81.0)::bigint]
    FROM (SELECT floor(extract(epoch FROM received_at) / 86400)::bigint AS d) AS day
$$
"""

# Every unit path above and at the request's unit (`/c/d/` gives `u/c/`, `u/c/d/`: the root `/` none, since
# a city-wide caller needs no key), the category and each one above it, the status.
_SCOPE = """
CREATE FUNCTION public.search_scope_keys(unit_path text, category_code text, status text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce((SELECT array_agg('u' || left(unit_path, i)) FROM generate_series(2, length(unit_path)) AS i
                     WHERE substr(unit_path, i, 1) = '/'), '{}')
        || coalesce((SELECT array_agg('c' || left(category_code, i - 1))
                     FROM generate_series(2, length(category_code)) AS i
                     WHERE substr(category_code, i, 1) = '.'), '{}')
        || CASE WHEN category_code IS NULL THEN '{}'::text[] ELSE ARRAY['c' || category_code] END
        || CASE WHEN status IS NULL THEN '{}'::text[] ELSE ARRAY['s' || status] END
$$
"""

_KEYS = """
CREATE FUNCTION public.search_keys(body text, received_at timestamptz, unit_path text, category_code text,
                                   status text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(public.search_grams(body), '{}') || coalesce(public.search_days(received_at), '{}')
        || public.search_scope_keys(unit_path, category_code, status)
$$
"""

INDEX = (
    "CREATE INDEX ix_requests_search_keys ON requests "
    "USING gin (search_keys(search_body, received_at, unit_path, category_code, status))"
)
_OLD_INDEX = "CREATE INDEX ix_requests_search_keys ON requests USING gin (search_keys(search_body, received_at))"


def upgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_requests_search_keys")
    for function in (_DAYS, _SCOPE, _KEYS):
        op.execute(function)
    op.execute("SET LOCAL maintenance_work_mem = '256MB'")
    op.execute(INDEX)


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_requests_search_keys")
    op.execute("DROP FUNCTION IF EXISTS public.search_keys(text, timestamptz, text, text, text)")
    op.execute("DROP FUNCTION IF EXISTS public.search_scope_keys(text, text, text)")
    op.execute("DROP FUNCTION IF EXISTS public.search_days(timestamptz)")
    op.execute(_OLD_INDEX)
