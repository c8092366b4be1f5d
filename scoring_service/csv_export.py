"""CSV renderings of unit and cadre scores (UTF-8 with a BOM, so spreadsheet software reads the Chinese)."""

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from services.scoring.schemas import RATE_NAMES, CadreScore, Rates, UnitScore
from shared.schemas import local_iso

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str | None) -> str:
    """A text cell that a spreadsheet will not run as a formula."""
    if value is None:
        return ""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _num(value: float | int | None) -> str:
    return "" if value is None else repr(value)


def _rate_columns() -> list[str]:
    return [f"{rate}{suffix}" for rate in RATE_NAMES for suffix in ("", "_n", "_shrunk", "_low", "_high", "_adjusted")]


def _rate_cells(rates: Rates | None) -> list[str]:
    cells: list[str] = []
    for rate in RATE_NAMES:
        if rates is None:
            cells += [""] * 6
            continue
        r = getattr(rates, rate)
        cells += [
            _num(r.value),
            _num(r.n),
            _num(r.shrunk),
            _num(r.interval.low if r.interval else None),
            _num(r.interval.high if r.interval else None),
            _num(r.adjusted),
        ]
    return cells


def _render(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return "\ufeff" + buffer.getvalue()


UNIT_HEADER = [
    "period",
    "as_of",
    "scheme_version",
    "run_id",
    "level",
    "code",
    "name",
    "parent_code",
    "rank",
    "ranked",
    "grade",
    "three_rate_score",
    "three_rate_score_raw",
    "satisfaction_index",
    *_rate_columns(),
]


def units_csv(items: Iterable[UnitScore]) -> str:
    return _render(
        UNIT_HEADER,
        (
            [
                s.period,
                local_iso(s.as_of),
                s.scheme_version,
                s.run_id,
                s.level,
                _text(s.code),
                _text(s.name),
                _text(s.parent_code),
                _num(s.rank),
                s.ranked,
                _text(s.grade),
                _num(s.three_rate_score.value),
                _num(s.three_rate_score.raw),
                _num(s.satisfaction_index.value),
                *_rate_cells(s.rates),
            ]
            for s in items
        ),
    )


CADRE_HEADER = [
    "period",
    "as_of",
    "scheme_version",
    "run_id",
    "kind",
    "staff_id",
    "name",
    "team_role",
    "scope_code",
    "cadre_score",
    "rank",
    "ranked",
    "grade",
    "process_score",
    "result_score",
    "dispatched",
    "handled",
    "visits",
    "visit_quota",
    "contacts",
    "contact_compliance",
    "coverage",
    *_rate_columns(),
]


def cadres_csv(items: Iterable[CadreScore]) -> str:
    return _render(
        CADRE_HEADER,
        (
            [
                c.period,
                local_iso(c.as_of),
                c.scheme_version,
                c.run_id,
                c.kind,
                c.staff_id,
                _text(c.name),
                _text(c.team_role),
                _text(c.scope_code),
                _num(c.cadre_score),
                _num(c.rank),
                c.ranked,
                _text(c.grade),
                _num(c.process.score),
                _num(c.result.score),
                c.quantity.dispatched,
                c.quantity.handled,
                c.quantity.visits,
                _num(c.quantity.visit_quota),
                c.quantity.contacts,
                _num(c.contacts.contact_compliance if c.contacts else None),
                _num(c.contacts.coverage if c.contacts else None),
                *_rate_cells(c.quality),
            ]
            for c in items
        ),
    )
