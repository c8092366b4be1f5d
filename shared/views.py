"""Typed results that answer schemas read with `from_attributes`: a row with the values it lacks, a page of rows.

Services return these (or bare rows); routers name the schema in `response_model`, so each answer is built
one way, from attributes.
"""

from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

RowT = TypeVar("RowT")
ItemT = TypeVar("ItemT")


@dataclass(frozen=True, slots=True)
class RowWith(Generic[RowT]):
    """A row plus values that are not on it (a subclass's fields); any other attribute is the row's."""

    row: RowT

    def __getattr__(self, name: str) -> Any:
        if name == "row":  # not yet set (copying, unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.row, name)


class Rows(NamedTuple, Generic[ItemT]):
    """One page of rows (or typed results), read as `shared.pagination.Page` of their schema."""

    items: list[ItemT]
    next_cursor: str | None = None
