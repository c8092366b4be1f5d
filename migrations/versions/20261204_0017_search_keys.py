"""search keys: bigrams and the day of receipt (issue 16, item 3: the 12,000,000 target)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 15:00:00.000000

The character index of 0013 (one GIN key per character) is replaced by one over `search_keys`: every
bigram of `search_body` (two adjacent characters, as Lucene's CJK bigram analyzer indexes Chinese) and one
key for the UTC day the request was received (`d20425`). A query asks for its words' bigrams, which are far
more selective than characters (the characters of `网格员现场核实` are together in a tenth of a year's
requests, its bigrams in about the requests that hold the phrase), and for a run of days: the search walks
back from the newest day in growing steps (docs/search.md), so however common its words, no step rechecks
more than a few days of matches, whatever plan the estimates suggest.
Building the index reads `requests` once (about 7 minutes on 12,000,000 requests on 2 cores).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every bigram of a text, repeats kept (GIN keeps each key once per row). `substr` over `generate_series`:
# about 0.4 µs a character here, the cheapest of the forms tried (an unnest of two array slices is slower).
_GRAMS = """
CREATE FUNCTION search_grams(body text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(substr(body, i, 2)), '{}') FROM generate_series(1, length(body) - 1) AS i
$$
"""

# The UTC day number of an instant: the same whatever the session's time zone (immutable in fact, though
# `extract` on timestamptz is declared stable), and computed the same way by services/search/repository.py.
_DAY = """
CREATE FUNCTION search_day(received_at timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT 'd' || floor(extract(epoch FROM received_at) / 86400)::bigint
$$
"""

# Schema-qualified calls: PostgreSQL 17 and later build and maintain indexes with a search_path of
# pg_catalog only, where an unqualified `search_grams` would not be found.
_KEYS = """
CREATE FUNCTION search_keys(body text, received_at timestamptz) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(public.search_grams(body), '{}') || coalesce(public.search_day(received_at), 'd')
$$
"""

# A query's keys: the bigrams of its words, each normalised as the stored body is.
_QUERY_GRAMS = """
CREATE FUNCTION search_query_grams(terms text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT g), '{}')
    FROM unnest(terms) AS t, unnest(public.search_grams(public.search_text(t, NULL, NULL))) AS g
$$
"""

INDEX = "CREATE INDEX ix_requests_search_keys ON requests USING gin (search_keys(search_body, received_at))"
_OLD_INDEX = "CREATE INDEX ix_requests_search_chars ON requests USING gin (string_to_array(search_body, NULL))"


def upgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_requests_search_chars")
    for function in (_GRAMS, _DAY, _KEYS, _QUERY_GRAMS):
        op.execute(function)
    op.execute("SET LOCAL maintenance_work_mem = '256MB'")
    op.execute(INDEX)


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_requests_search_keys")
    op.execute("DROP FUNCTION IF EXISTS search_query_grams(text[])")
    op.execute("DROP FUNCTION IF EXISTS search_keys(text, timestamptz)")
    op.execute("DROP FUNCTION IF EXISTS search_day(timestamptz)")
    op.execute("DROP FUNCTION IF EXISTS search_grams(text)")
    op.execute(_OLD_INDEX)
