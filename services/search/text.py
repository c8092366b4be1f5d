"""Search text and queries, no I/O: how text is normalised, how a query is read, how hits are ranked.

Chinese has no spaces between words. The index (migration 0013) holds the **characters** of each request's
normalised text, one GIN key per character, as Lucene's standard analyzer indexes CJK; a query's characters
narrow the candidates through it and each of its words is then confirmed as a substring, so `噪音` finds
`施工噪音扰民` and not `噪…音`. pg_trgm's trigrams are not used: in a database whose LC_CTYPE is `C` (the
embedded PostgreSQL 18 that `make run` starts) pg_trgm takes only ASCII letters and digits as word
characters and extracts no trigram at all from Chinese (docs/search.md shows it). Normalisation is NFKC
(full-width `３号楼` reads `3号楼`) and lower case; the database applies its own `search_text` to the stored
texts and to the query's words alike, so the two always agree.
"""

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

# Characters that separate the words of a query: ASCII spaces and punctuation, CJK punctuation (after NFKC,
# which folds full-width forms such as `，` to ASCII).
SEPARATORS = " \t\r\n\v\f!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~。、；：？！“”‘’（）《》〈〉【】「」『』〔〕…—～·￥"
_SPLIT = str.maketrans(SEPARATORS, "\n" * len(SEPARATORS))

MIN_TERM = 2  # a query needs one word of at least this many characters (docs/search.md: short queries)
MAX_TERMS = 8
MAX_QUERY_CHARS = 200


def normalise(text: str) -> str:
    """NFKC (full-width to half-width), then lower case, as the database's `search_text` does."""
    return unicodedata.normalize("NFKC", text).lower()


def terms_of(query: str) -> list[str]:
    """The distinct words of a query, normalised, in order; separators dropped."""
    seen: dict[str, None] = {}
    for word in normalise(query).translate(_SPLIT).split("\n"):
        if word:
            seen.setdefault(word, None)
    return list(seen)


class QueryProblem(ValueError):
    """A query that cannot be searched; the message says why, for the field `q`."""


@dataclass(frozen=True, slots=True)
class Query:
    """A query read for the index: every term must occur as a substring; their bigrams narrow through the
    index (computed by the database, after its own normalisation: repository.matching)."""

    terms: tuple[str, ...]

    @property
    def phrase(self) -> str:
        return "".join(self.terms)


def parse_query(query: str) -> Query:
    """The words of a query. At least one word needs two characters: one character
    (`水`, `路`) is in a large share of a year's requests and ranks nothing; beside a longer word it filters."""
    if len(query) > MAX_QUERY_CHARS:
        raise QueryProblem(f"at most {MAX_QUERY_CHARS} characters")
    terms = terms_of(query)
    if not terms:
        raise QueryProblem("no words to search for")
    if len(terms) > MAX_TERMS:
        raise QueryProblem(f"at most {MAX_TERMS} words")
    if all(len(t) < MIN_TERM for t in terms):
        raise QueryProblem(f"at least one word of {MIN_TERM} or more characters (Chinese: two characters)")
    return Query(terms=tuple(terms))


# ---- ranking ---------------------------------------------------------------------------------------------

# How much a term found in each field counts: the citizen's own words first, then where, then the trail.
FIELD_WEIGHTS = {"description": 3.0, "address": 2.0, "notes": 1.0}
REPEAT_BONUS = 0.5  # each further occurrence of a term, at most two counted
PHRASE_BONUS = 2.0  # the whole query, its terms side by side, in the description
FOCUS_WEIGHT = 2.0  # times the share of the description the terms cover (a short, focused text ranks higher)


@dataclass(frozen=True, slots=True)
class Scored:
    score: float
    matched: tuple[str, ...]  # the fields a term was found in, in FIELD_WEIGHTS order


def rank(query: Query, description: str, address: str | None, notes: str | None) -> Scored:
    """The relevance of one request to a query (higher first); pure, so the rule can be tested by itself.

    Per term: the weight of the best field it occurs in, plus a little for repeats; then a bonus when the
    description holds the whole phrase, and one for how much of the description the terms cover.
    """
    fields = {
        "description": normalise(description),
        "address": normalise(address or ""),
        "notes": normalise(notes or ""),
    }
    score = 0.0
    matched: set[str] = set()
    covered = 0
    for term in query.terms:
        best = 0.0
        occurrences = 0
        for name, text in fields.items():
            count = text.count(term)
            if count:
                matched.add(name)
                best = max(best, FIELD_WEIGHTS[name])
                occurrences += count
        score += best + REPEAT_BONUS * min(max(occurrences - 1, 0), 2)
        covered += len(term) * min(fields["description"].count(term), 3)
    if len(query.terms) > 1 and query.phrase in fields["description"]:
        score += PHRASE_BONUS
    length = len(fields["description"])
    if length:
        score += FOCUS_WEIGHT * min(1.0, covered / length)
    return Scored(round(score, 4), tuple(name for name in FIELD_WEIGHTS if name in matched))


# ---- the walk back through the days ----------------------------------------------------------------------

FIRST_STEP_DAYS = 1
STEP_GROWTH = 3  # each step reads three times the days of the one before: 1, 3, 9, 27, … (6 steps a year)


def day_steps(first: int, last: int) -> Iterator[range]:
    """The days `first..last` (inclusive) newest first, in contiguous steps growing by STEP_GROWTH: a common
    word fills the window within the first day or two, a rare one reaches a year's start in a few queries."""
    size = FIRST_STEP_DAYS
    top = last
    while top >= first:
        bottom = max(first, top - size + 1)
        yield range(bottom, top + 1)
        top = bottom - 1
        size *= STEP_GROWTH
