"""Pydantic types every API shares."""

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import PlainSerializer

from shared.settings import get_settings


def _local_iso(value: datetime) -> str:
    return value.astimezone(ZoneInfo(get_settings().timezone)).isoformat()


# Times leave the API as ISO 8601 in the city's time zone (`2026-11-26T17:30:00+08:00`).
LocalDateTime = Annotated[datetime, PlainSerializer(_local_iso, return_type=str, when_used="json")]
