"""Admin: the holiday table that overrides and extends the official calendar (调休 included)."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from intake_api.deps import AdminPrincipal
from services.models import CalendarDay
from services.sla import calendar_admin
from shared.deps import SessionDep
from shared.schemas import IsoDate, SafeText, StrictInput
from shared.web.errors import problem_responses

router = APIRouter(prefix="/v1/admin/calendar", tags=["admin: configuration"])
Day = Annotated[IsoDate, Path(description="The date, YYYY-MM-DD", examples=["2027-01-01"])]


class CalendarDayIn(StrictInput):
    model_config = ConfigDict(json_schema_extra={"examples": [{"is_workday": False, "note": "元旦"}]})

    is_workday: bool = Field(description="true: a working day (e.g. an adjusted working weekend); false: a holiday")
    note: Annotated[SafeText | None, Field(max_length=200)] = None


class CalendarDayOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    day: date
    is_workday: bool
    note: str | None


@router.get("", response_model=list[CalendarDayOut], responses=problem_responses(401, 403, 422))
async def list_calendar(
    session: SessionDep,
    principal: AdminPrincipal,
    start: Annotated[IsoDate, Query(alias="from")],
    end: Annotated[IsoDate, Query(alias="to")],
) -> list[CalendarDay]:
    """The table's entries between two dates (the official calendar fills the rest)."""
    return await calendar_admin.list_days(session, start, end)


@router.put("/{day}", response_model=CalendarDayOut, responses=problem_responses(401, 403, 422))
async def set_calendar_day(
    session: SessionDep, principal: AdminPrincipal, day: Day, body: CalendarDayIn
) -> CalendarDay:
    """Mark a date a holiday or a working day; deadlines still ahead are recomputed in the background."""
    return await calendar_admin.set_day(session, principal, day, body.is_workday, body.note)


@router.delete("/{day}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(401, 403, 404, 422))
async def delete_calendar_day(session: SessionDep, principal: AdminPrincipal, day: Day) -> Response:
    """Remove an entry; the official calendar (or Monday–Friday) applies again."""
    await calendar_admin.delete_day(session, principal, day)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
