"""Working-time arithmetic for SLA deadlines (SPEC §6).

Pure: no I/O and no database. The caller passes the admin-managed holiday table in as ``overrides``
(date → True for a working day such as an adjusted working weekend 调休, False for a holiday).

A day's working status is decided, in order, by the overrides, then the official mainland calendar
shipped in ``chinese_calendar`` (which only knows the years it ships, 2004–2026 in 1.11.0, and raises
``NotImplementedError`` outside them), then Monday–Friday. So any date in any year gets an answer.

Office periods are half-open ``[start, end)`` in local time. Durations are measured on absolute time
(UTC), so the arithmetic stays right even for a zone with daylight saving; Asia/Shanghai has none.
A deadline whose working time runs out exactly at the end of a period is that period's end (17:30),
not the start of the next one.

Durations are held as ``timedelta`` (whole microseconds), so adding and measuring are exact integer
operations; minutes given as floats are rounded to the microsecond once, on the way in.
"""

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from types import MappingProxyType
from typing import Final
from zoneinfo import ZoneInfo

import chinese_calendar

__all__ = [
    "CLOCK_HOURS",
    "DEFAULT_WARNING_SHARE",
    "MAX_SEARCH_DAYS",
    "SHANGHAI",
    "UNITS",
    "WORKING_DAYS",
    "WORKING_HOURS",
    "OfficeHours",
    "WorkCalendar",
    "official_workday",
]

SHANGHAI: Final = ZoneInfo("Asia/Shanghai")

CLOCK_HOURS: Final = "clock_hours"
WORKING_HOURS: Final = "working_hours"
WORKING_DAYS: Final = "working_days"
UNITS: Final = frozenset({CLOCK_HOURS, WORKING_HOURS, WORKING_DAYS})

# How far (in calendar days) a working-time addition may search before giving up: about 3 years.
MAX_SEARCH_DAYS: Final = 3 * 366

_ZERO: Final = timedelta(0)
_ONE_DAY: Final = timedelta(days=1)
_CACHE_LIMIT: Final = 8192
# 黄牌 at 80% of the time allowed, unless the rule settings say otherwise (`sla.warning_share`).
DEFAULT_WARNING_SHARE: Final = 0.8


@dataclass(frozen=True, slots=True)
class OfficeHours:
    """A working day's office periods in local wall-clock time, each ``[start, end)``, in whole minutes."""

    periods: tuple[tuple[time, time], ...] = ((time(8, 30), time(12, 0)), (time(13, 30), time(17, 30)))

    def __post_init__(self) -> None:
        periods = tuple((start, end) for start, end in self.periods)
        if not periods:
            raise ValueError("office hours need at least one period")
        previous_end: time | None = None
        for start, end in periods:
            for moment in (start, end):
                if not isinstance(moment, time):
                    raise TypeError(f"office hours must be datetime.time values, got {moment!r}")
                if moment.tzinfo is not None:
                    raise ValueError("office hours are local wall-clock times; give them without tzinfo")
                if moment.second or moment.microsecond:
                    raise ValueError(f"office hours are whole minutes, got {moment.isoformat()}")
            if start >= end:
                raise ValueError(f"office period {start.isoformat()}–{end.isoformat()} must start before it ends")
            if previous_end is not None and start < previous_end:
                raise ValueError("office periods must be sorted and must not overlap")
            previous_end = end
        object.__setattr__(self, "periods", periods)

    @property
    def minutes_per_day(self) -> int:
        """One working day of office time (450 for 08:30–12:00 + 13:30–17:30)."""
        return sum((end.hour * 60 + end.minute) - (start.hour * 60 + start.minute) for start, end in self.periods)


@lru_cache(maxsize=_CACHE_LIMIT)
def official_workday(day: date) -> bool | None:
    """The official calendar's answer for ``day``, or None for a year the package does not ship."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None


def _plain_date(value: date) -> date:
    """A ``date`` key: datetimes (a date subclass that never equals a date) are cut to their date."""
    if isinstance(value, datetime):
        return value.date()
    if not isinstance(value, date):
        raise TypeError(f"expected a datetime.date, got {type(value).__name__}")
    return value


def _aware_utc(moment: datetime, name: str) -> datetime:
    if not isinstance(moment, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


def _duration(amount: float, unit: timedelta, name: str) -> timedelta:
    """``amount`` units as a timedelta; ValueError for a negative, NaN, infinite or absurdly large amount."""
    if isinstance(amount, bool) or not isinstance(amount, numbers.Real | Decimal):
        raise TypeError(f"{name} must be a number, got {type(amount).__name__}")
    if not isinstance(amount, int):
        amount = float(amount)  # Decimal and Fraction amounts from the database
    if amount < 0 or (isinstance(amount, float) and not math.isfinite(amount)):
        raise ValueError(f"{name} must be a finite number >= 0, got {amount!r}")
    try:
        return amount * unit
    except OverflowError as exc:
        raise ValueError(f"{name} is too large: {amount!r}") from exc


def _check_unit(unit: str) -> str:
    if unit not in UNITS:
        raise ValueError(f"unknown SLA unit {unit!r}; expected one of {sorted(UNITS)}")
    return str(unit)


def _next_day(day: date) -> date:
    try:
        return day + _ONE_DAY
    except OverflowError as exc:
        raise ValueError("working time runs past the end of the calendar") from exc


class WorkCalendar:
    """Working days and office hours; an immutable snapshot (build a new one when the admin table changes)."""

    __slots__ = ("_days", "_office_hours", "_overrides", "_tz", "_warning_share", "_workdays")

    def __init__(
        self,
        overrides: Mapping[date, bool] | None = None,
        office_hours: OfficeHours = OfficeHours(),
        tz: ZoneInfo = SHANGHAI,
        warning_share: float = DEFAULT_WARNING_SHARE,
    ) -> None:
        if not isinstance(office_hours, OfficeHours):
            raise TypeError("office_hours must be an OfficeHours")
        if not 0 < warning_share < 1:
            raise ValueError(f"warning_share must lie strictly between 0 and 1, got {warning_share!r}")
        self._warning_share = float(warning_share)
        self._overrides: dict[date, bool] = {_plain_date(day): bool(works) for day, works in (overrides or {}).items()}
        self._office_hours = office_hours
        self._tz = tz
        self._workdays: dict[date, bool] = {}
        # local date → (its office periods as UTC instants, their total length); empty on a non-working day
        self._days: dict[date, tuple[tuple[tuple[datetime, datetime], ...], timedelta]] = {}

    @property
    def overrides(self) -> Mapping[date, bool]:
        return MappingProxyType(self._overrides)

    @property
    def office_hours(self) -> OfficeHours:
        return self._office_hours

    @property
    def tz(self) -> ZoneInfo:
        return self._tz

    @property
    def warning_share(self) -> float:
        """The share of a deadline's time allowed after which a request turns `warning` (黄牌; rule settings)."""
        return self._warning_share

    # ---- days ---------------------------------------------------------------------------------------

    def _local_date(self, day: date) -> date:
        if isinstance(day, datetime) and day.tzinfo is not None and day.utcoffset() is not None:
            return day.astimezone(self._tz).date()
        return _plain_date(day)

    def is_workday(self, day: date) -> bool:
        """Overrides first, then the official calendar for the years it knows, then Monday–Friday."""
        day = self._local_date(day)
        cached = self._workdays.get(day)
        if cached is not None:
            return cached
        works = self._overrides.get(day)
        if works is None:
            works = official_workday(day)
        if works is None:
            works = day.weekday() < 5
        if len(self._workdays) >= _CACHE_LIMIT:
            self._workdays.clear()
        self._workdays[day] = works
        return works

    def is_known(self, day: date) -> bool:
        """True when the overrides or the official calendar decide ``day`` (not the Monday–Friday fallback)."""
        day = self._local_date(day)
        return day in self._overrides or official_workday(day) is not None

    def uncovered_days(self, start: date, days: int) -> list[date]:
        """The days in ``[start, start + days)`` known to neither the overrides nor the official calendar."""
        if days < 0:
            raise ValueError(f"days must be >= 0, got {days}")
        day = self._local_date(start)
        uncovered: list[date] = []
        for _ in range(days):
            if not self.is_known(day):
                uncovered.append(day)
            if day == date.max:
                break
            day += _ONE_DAY
        return uncovered

    def _office_day(self, day: date) -> tuple[tuple[tuple[datetime, datetime], ...], timedelta]:
        entry = self._days.get(day)
        if entry is not None:
            return entry
        periods: list[tuple[datetime, datetime]] = []
        total = _ZERO
        if self.is_workday(day):
            for start, end in self._office_hours.periods:
                begin = datetime.combine(day, start, tzinfo=self._tz).astimezone(UTC)
                finish = datetime.combine(day, end, tzinfo=self._tz).astimezone(UTC)
                if finish > begin:  # only a daylight-saving jump could squeeze a period to nothing
                    periods.append((begin, finish))
                    total += finish - begin
        entry = (tuple(periods), total)
        if len(self._days) >= _CACHE_LIMIT:
            self._days.clear()
        self._days[day] = entry
        return entry

    # ---- working time -------------------------------------------------------------------------------

    def _add(self, cursor: datetime, remaining: timedelta) -> datetime:
        """The UTC instant at which ``remaining`` working time after ``cursor`` (UTC) is used up."""
        day = cursor.astimezone(self._tz).date()
        for _ in range(MAX_SEARCH_DAYS + 1):
            periods, day_total = self._office_day(day)
            if periods and cursor <= periods[0][0] and remaining > day_total:
                remaining -= day_total  # the whole working day is used up: skip it in one step
            else:
                for begin, end in periods:
                    if cursor >= end:
                        continue
                    begin = max(begin, cursor)
                    available = end - begin
                    if remaining <= available:
                        return begin + remaining
                    remaining -= available
                    cursor = end
            day = _next_day(day)
        raise ValueError(f"working time not used up within {MAX_SEARCH_DAYS} days; check the holiday overrides")

    def _between(self, start: datetime, end: datetime) -> timedelta:
        """Working time inside ``[start, end)``, both UTC."""
        if end <= start:
            return _ZERO
        total = _ZERO
        day = start.astimezone(self._tz).date()
        last = end.astimezone(self._tz).date()
        while True:
            periods, day_total = self._office_day(day)
            if periods:
                if start <= periods[0][0] and periods[-1][1] <= end:
                    total += day_total
                else:
                    for begin, finish in periods:
                        overlap = min(finish, end) - max(begin, start)
                        if overlap > _ZERO:
                            total += overlap
            if day >= last:
                return total
            day += _ONE_DAY

    def add_working_minutes(self, start: datetime, minutes: float) -> datetime:
        """``start`` plus ``minutes`` of working time, aware in ``self.tz``.

        A start outside office hours begins counting at the next office period; ``minutes == 0`` gives
        that next office moment. ValueError for a naive start, negative minutes, or no end within ~3 years.
        """
        cursor = _aware_utc(start, "start")
        remaining = _duration(minutes, timedelta(minutes=1), "minutes")
        return self._add(cursor, remaining).astimezone(self._tz)

    def working_minutes_between(self, start: datetime, end: datetime) -> float:
        """Working minutes inside ``[start, end)``; 0 when ``end <= start``."""
        return self._between(_aware_utc(start, "start"), _aware_utc(end, "end")) / timedelta(minutes=1)

    def deadline(self, start: datetime, amount: float, unit: str) -> datetime:
        """The deadline ``amount`` units after ``start``, aware in ``self.tz``.

        ``clock_hours``: plain elapsed time, no calendar. ``working_hours``: that much office time.
        ``working_days``: ``amount`` days' worth of office time (N working days = N × minutes_per_day).
        """
        unit = _check_unit(unit)
        begin = _aware_utc(start, "start")
        if unit == CLOCK_HOURS:
            try:
                return (begin + _duration(amount, timedelta(hours=1), "amount")).astimezone(self._tz)
            except OverflowError as exc:
                raise ValueError("deadline falls past the end of the calendar") from exc
        per_unit = (
            timedelta(hours=1) if unit == WORKING_HOURS else timedelta(minutes=self._office_hours.minutes_per_day)
        )
        return self._add(begin, _duration(amount, per_unit, "amount")).astimezone(self._tz)

    def shift_for_pause(self, deadline: datetime, paused_from: datetime, paused_to: datetime, unit: str) -> datetime:
        """The deadline after a suspension ``[paused_from, paused_to)``.

        Clock units move by the pause's length; working units by the working time inside the pause (a
        pause entirely outside office hours moves nothing). An empty or inverted pause changes nothing.
        """
        unit = _check_unit(unit)
        due = _aware_utc(deadline, "deadline")
        pause_start = _aware_utc(paused_from, "paused_from")
        pause_end = _aware_utc(paused_to, "paused_to")
        if pause_end <= pause_start:
            return due.astimezone(self._tz)
        if unit == CLOCK_HOURS:
            try:
                return (due + (pause_end - pause_start)).astimezone(self._tz)
            except OverflowError as exc:
                raise ValueError("deadline falls past the end of the calendar") from exc
        paused = self._between(pause_start, pause_end)
        if paused == _ZERO:
            return due.astimezone(self._tz)
        return self._add(due, paused).astimezone(self._tz)
