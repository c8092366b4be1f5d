"""Pydantic shapes of the hot-spot alert API (`GET /v1/alerts`) and of the `alert.raised` webhook."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from shared.schemas import LocalDateTime

# A top-level category code (the first segment of a code such as `env.noise`).
CATEGORY_ROOT_RE = r"^[a-z][a-z0-9_]{0,30}$"
CategoryRoot = Annotated[str, Field(max_length=31, pattern=CATEGORY_ROOT_RE, examples=["env"])]


class AlertOut(BaseModel):
    """A hot spot: an unusual number of requests of one top-level category in one community in 24 h."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 17,
                    "community_code": "330203001001",
                    "community_name": "新典社区",
                    "category_root": "env",
                    "category_name": "生态环境",
                    "count_24h": 6,
                    "baseline_daily_mean": 0.0,
                    "p_value": 2.795302634922398e-12,
                    "key_group": False,
                    "window_start": "2026-11-25T18:00:00+08:00",
                    "window_end": "2026-11-26T18:00:00+08:00",
                    "raised_at": "2026-11-26T17:35:00.120000+08:00",
                }
            ]
        },
    )

    id: int
    community_code: str = Field(description="The community (社区) where the requests are")
    community_name: str
    category_root: str = Field(description="The top-level category code (`env` for `env.noise`, …)")
    category_name: str = Field(description="The top-level category's name (its code when it has none)")
    count_24h: int = Field(description="Requests of the category in the community from `window_start` to the scan")
    baseline_daily_mean: float = Field(
        description="Mean requests a day over the 28 days before `window_start`; the test uses at least 1/28"
    )
    p_value: float = Field(description="P(X ≥ count_24h) for X ~ Poisson(max(baseline_daily_mean, 1/28)); < 0.001")
    key_group: bool = Field(
        description="A key-group matter (重点人群): the count threshold was 3, not 5; set when the top-level "
        "category or any category of the requests counted is flagged `key_group`"
    )
    window_start: LocalDateTime = Field(description="Start of the 24 h window (on the hour)")
    window_end: LocalDateTime = Field(description="End of the 24 h window (`window_start` + 24 h)")
    raised_at: LocalDateTime
