"""Open requests on a yellow or red card, by district: what the workers' metrics show
(docs/operations.md, "Metrics"). The SLA sweep (`sweep.py`) turns the cards; this only counts them."""

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.models import OrgUnit, Request
from services.models.intake import OPEN_STATUSES

# A request's unit path is `/<city>/<district>/…`: its third `/`-separated element is the district's code
# (empty while the request sits at the city or is not located).
DISTRICT_PATH_ELEMENT = 3
NO_DISTRICT = "none"
STANDINGS = ("warning", "overdue")


@dataclass(frozen=True, slots=True)
class DistrictStanding:
    district: str  # the district's code, or NO_DISTRICT
    name: str
    warning: int
    overdue: int


async def standing_by_district(session: AsyncSession) -> list[DistrictStanding]:
    """Every district (zeros included) and the requests at the city or unlocated, with their open requests
    in the `warning` and `overdue` standings."""
    district = func.split_part(Request.unit_path, "/", DISTRICT_PATH_ELEMENT)
    rows = await session.execute(
        select(district, Request.sla_state, func.count())
        .where(Request.status.in_(OPEN_STATUSES), Request.sla_state.in_(STANDINGS))
        .group_by(district, Request.sla_state)
    )
    counts: dict[tuple[str, str], int] = {(code or NO_DISTRICT, state): int(n) for code, state, n in rows.all()}
    names = dict((await session.execute(select(OrgUnit.code, OrgUnit.name).where(OrgUnit.level == "district"))).all())
    names[NO_DISTRICT] = "市级或未定位"
    # A request under a district deleted since keeps its code, named by it.
    for code, _ in counts:
        names.setdefault(code, code)
    return [
        DistrictStanding(code, name, counts.get((code, "warning"), 0), counts.get((code, "overdue"), 0))
        for code, name in sorted(names.items())
    ]
