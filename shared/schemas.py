"""Pydantic types every API shares."""

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, PlainSerializer

from shared.settings import get_settings


def _local_iso(value: datetime) -> str:
    return value.astimezone(ZoneInfo(get_settings().timezone)).isoformat()


# Times leave the API as ISO 8601 in the city's time zone (`2026-11-26T17:30:00+08:00`).
LocalDateTime = Annotated[datetime, PlainSerializer(_local_iso, return_type=str, when_used="json")]


def no_control_chars(value: str) -> str:
    """Refuse control characters (NUL above all: PostgreSQL cannot store it) except tab and newlines."""
    if any((ord(c) < 32 and c not in "\n\r\t") or c == "\x7f" for c in value):
        raise ValueError("control characters are not allowed")
    return value


# Free text that is stored: any Unicode except control characters.
SafeText = Annotated[str, AfterValidator(no_control_chars)]
