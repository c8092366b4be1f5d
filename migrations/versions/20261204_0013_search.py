"""search and exports (issue 16 items 3-4)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 04:10:00.000000

* `requests.notes_text`: every note of the request's trail (`request_events.note`), one a line, kept by a
  trigger on `request_events` (an append locks the request row first, services/lifecycle/events.py, so the
  trigger's update waits for nobody, and the trail stays the one place a note is written).
* `requests.search_body`: description, address and notes normalised for search (`search_text`: NFKC, so
  full-width `３号楼` reads `3号楼`, then lower case), a stored generated column: the per-row check of a
  search is a plain `strpos` over it, with no normalisation at query time.
* A GIN index over the characters of `search_body` (`string_to_array(search_body, NULL)`, one key per
  character, as Lucene's standard analyzer indexes CJK): a query's characters narrow through the index, its
  words are confirmed as substrings. pg_trgm is not used: in a database whose LC_CTYPE is `C` (the embedded
  PostgreSQL 18 of `make run`) it extracts no trigram at all from Chinese text (docs/search.md).
Adding a stored column rewrites `requests` once (minutes on a year of data: plan the upgrade).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A plain SQL body (not `BEGIN ATOMIC`): inlined by the planner, immutable, so a generated column may use it.
_SEARCH_TEXT = r"""
CREATE FUNCTION search_text(description text, address text, notes text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT lower(normalize(concat_ws(E'\n', description, address, notes), NFKC))
$$
"""

_KEEP_NOTES = r"""
CREATE FUNCTION keep_request_notes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE requests SET notes_text = concat_ws(E'\n', notes_text, NEW.note) WHERE id = NEW.request_id;
    RETURN NULL;
END
$$
"""

_KEEP_NOTES_TRIGGER = """
CREATE TRIGGER keep_request_notes AFTER INSERT ON request_events FOR EACH ROW
WHEN (NEW.note IS NOT NULL AND NEW.note <> '')
EXECUTE FUNCTION keep_request_notes()
"""

INDEX = "CREATE INDEX ix_requests_search_chars ON requests USING gin (string_to_array(search_body, NULL))"


def upgrade() -> None:
    op.execute(_SEARCH_TEXT)
    op.execute("ALTER TABLE requests ADD COLUMN notes_text text")
    # Notes already on the trail, before the generated column exists (one table rewrite, not two).
    op.execute(
        "UPDATE requests r SET notes_text = n.notes FROM ("
        " SELECT request_id, string_agg(note, E'\\n' ORDER BY seq) AS notes FROM request_events"
        " WHERE note IS NOT NULL AND note <> '' GROUP BY request_id) n WHERE n.request_id = r.id"
    )
    op.execute(
        "ALTER TABLE requests ADD COLUMN search_body text"
        " GENERATED ALWAYS AS (search_text(description, address, notes_text)) STORED"
    )
    op.execute(_KEEP_NOTES)
    op.execute(_KEEP_NOTES_TRIGGER)
    op.execute(INDEX)


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_requests_search_chars")
    op.execute("DROP TRIGGER IF EXISTS keep_request_notes ON request_events")
    op.execute("DROP FUNCTION IF EXISTS keep_request_notes()")
    op.execute("ALTER TABLE requests DROP COLUMN IF EXISTS search_body")
    op.execute("ALTER TABLE requests DROP COLUMN IF EXISTS notes_text")
    op.execute("DROP FUNCTION IF EXISTS search_text(text, text, text)")
