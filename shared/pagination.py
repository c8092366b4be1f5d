"""Cursor pagination: `{items, next_cursor}`; the cursor is an opaque token over the last id."""

import base64
import binascii
from typing import Generic, TypeVar

from pydantic import BaseModel

from shared.errors import InvalidInput, field_error

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def invalid_cursor() -> InvalidInput:
    """The 422 for a cursor this API did not hand out (or one altered on the way)."""
    return InvalidInput("The cursor is not valid", errors=[field_error(["query", "cursor"], "invalid cursor")])


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = raw.partition(":")
        if kind != "id":
            raise ValueError(raw)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise invalid_cursor() from exc


def next_cursor(ids: list[int], limit: int) -> str | None:
    """A cursor past the last id when the page came back full (there may be more)."""
    return encode_cursor(ids[-1]) if len(ids) == limit and ids else None


def encode_keyset_cursor(value: str, last_id: int) -> str:
    """A cursor past (`value`, `last_id`) for a list ordered by some value and then by id."""
    return base64.urlsafe_b64encode(f"at:{last_id}:{value}".encode()).decode().rstrip("=")


def decode_keyset_cursor(cursor: str | None) -> tuple[str, int] | None:
    """(value, id) of a keyset cursor, or None for no cursor; a malformed one is a 422 naming `cursor`."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, rest = raw.partition(":")
        last_id, _, value = rest.partition(":")
        if kind != "at" or not value:
            raise ValueError(raw)
        return value, int(last_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise invalid_cursor() from exc
