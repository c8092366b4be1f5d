"""Pydantic types every API shares."""

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, PlainSerializer, Strict

from shared.settings import get_settings


def city_zone() -> ZoneInfo:
    """The city's time zone (`TIMEZONE`)."""
    return ZoneInfo(get_settings().timezone)


def local_iso(value: datetime) -> str:
    """A time as every answer, CSV file and event gives it: ISO 8601 with the city's offset."""
    return value.astimezone(city_zone()).isoformat()


# Times leave the API as ISO 8601 in the city's time zone (`2026-11-26T17:30:00+08:00`).
LocalDateTime = Annotated[datetime, PlainSerializer(local_iso, return_type=str, when_used="json")]

_NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")


def _not_a_number(value: Any) -> Any:
    """Pydantic would read a number, or a string of digits such as `0` or `2026`, as a Unix time."""
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("give an ISO 8601 date or time, not a number")
    return value


class StrictInput(BaseModel):
    """A request body: unknown fields refused, and JSON types taken as they are (no `false` read as 0,
    no `"3"` read as 3); dates and times as ISO 8601 text (`IsoDate`, `IsoDateTime`)."""

    model_config = ConfigDict(extra="forbid", strict=True)


# Dates and times coming in: ISO 8601 text only, as the OpenAPI document says (`format: date`, `date-time`);
# parsed from that text in strict models too (JSON has no date type).
IsoDate = Annotated[date, Strict(False), BeforeValidator(_not_a_number)]
IsoDateTime = Annotated[datetime, Strict(False), BeforeValidator(_not_a_number)]
IsoAwareDateTime = Annotated[AwareDatetime, Strict(False), BeforeValidator(_not_a_number)]


def _in_city_zone(value: datetime) -> datetime:
    """A time without an offset is the city's wall-clock time; every time must also exist in UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=city_zone())
    try:
        value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("the time is out of range") from exc
    return value


CITY_TIME_NOTE = "ISO 8601; a time without an offset is read in the city's time zone (`TIMEZONE`, e.g. +08:00)"
# A time coming in (filters, visits, as_of): with an offset as given, without one in the city's time zone.
CityDateTime = Annotated[datetime, Strict(False), BeforeValidator(_not_a_number), AfterValidator(_in_city_zone)]


def no_control_chars(value: str) -> str:
    """Refuse control characters (NUL above all: PostgreSQL cannot store it) except tab and newlines."""
    if any((ord(c) < 32 and c not in "\n\r\t") or c == "\x7f" for c in value):
        raise ValueError("control characters are not allowed")
    return value


# Free text that is stored: any Unicode except control characters.
SafeText = Annotated[str, AfterValidator(no_control_chars)]
