"""Pydantic shapes of search and phone lookup."""

from typing import Annotated

from pydantic import BaseModel, Field, field_validator

from services.intake.phones import normalise_phone
from services.intake.schemas import RequestOut
from shared.schemas import SafeText, StrictInput

SearchField = str  # `description`, `address` or `notes`


class SearchHit(BaseModel):
    """One request found, with its relevance and where the words were found."""

    score: float = Field(description="Relevance, higher first (docs/search.md: ranking)", examples=[5.25])
    matched: list[SearchField] = Field(
        description="The texts a word was found in: `description`, `address`, `notes`", examples=[["description"]]
    )
    request: RequestOut


class SearchPage(BaseModel):
    """A page of ranked hits. Ranking covers the newest `window` matches; `window_full` says older ones exist."""

    items: list[SearchHit]
    next_cursor: str | None = None
    ranked: int = Field(description="How many matches were ranked (at most the window)", examples=[37])
    window_full: bool = Field(
        description="More matches exist before the oldest one ranked: narrow with filters or `received_to`",
        examples=[False],
    )


class PhoneLookup(StrictInput):
    """A caller's phone number, in the body so it stays out of URLs and access logs."""

    phone: Annotated[SafeText, Field(min_length=5, max_length=32, examples=["13800000000", "0574-87654321"])]
    cursor: Annotated[str | None, Field(max_length=200, description="`next_cursor` from the previous page")] = None
    limit: Annotated[int, Field(ge=1, le=200, description="Page size")] = 20

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return normalise_phone(value)

    model_config = {
        **StrictInput.model_config,
        "json_schema_extra": {"examples": [{"phone": "13800000000", "limit": 20}]},
    }
