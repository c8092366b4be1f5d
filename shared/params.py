"""Query parameters every list endpoint shares."""

from typing import Annotated

from fastapi import Query

from shared.settings import get_settings

_settings = get_settings()

Limit = Annotated[
    int,
    Query(ge=1, le=_settings.max_page_size, description=f"Page size, at most {_settings.max_page_size}"),
]
Cursor = Annotated[str | None, Query(max_length=200, description="`next_cursor` from the previous page")]
DEFAULT_LIMIT = _settings.default_page_size
