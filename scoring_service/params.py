"""Query parameters the scoring routers share."""

from typing import Annotated

from fastapi import Query

from services.scoring.periods import PERIOD_RE

PeriodQuery = Annotated[
    str,
    Query(
        pattern=PERIOD_RE,
        max_length=7,
        description="`2026-10` (month), `2026-Q4` (quarter) or `2026` (year), in Asia/Shanghai",
        examples=["2026-10"],
    ),
]
RunIdQuery = Annotated[
    int | None,
    Query(ge=1, le=2**63 - 1, description="A finished run of that period (default: the one with the latest as_of)"),
]
