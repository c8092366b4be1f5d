"""The scoring scheme document (SPEC §7.5): weights, points, thresholds and quotas, with their defaults.

A scheme is stored as JSON with a version; this module only says what a valid document is.
Every field has the SPEC's default, so `SchemeDocument()` is the default scheme (version 1).
"""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.scoring.stats import z_for
from shared.schemas import StrictInput

Weight = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Strength = Annotated[float, Field(gt=0, le=1e9, allow_inf_nan=False)]
Quota = Annotated[int, Field(ge=0, le=100_000)]
WEIGHT_TOLERANCE = 1e-6


def _sums_to_one(model: BaseModel) -> None:
    total = sum(float(v) for v in model.model_dump().values())
    if abs(total - 1) > WEIGHT_TOLERANCE:
        raise ValueError(f"the weights must add up to 1 (they add up to {total:g})")


class ThreeRateWeights(StrictInput):
    """three_rate_score = 100 × (w_response·response + w_resolution·resolution + w_satisfaction·satisfaction)."""

    response: Weight = 0.2
    resolution: Weight = 0.4
    satisfaction: Weight = 0.4

    @model_validator(mode="after")
    def _check(self) -> "ThreeRateWeights":
        _sums_to_one(self)
        return self


class SatisfactionPoints(StrictInput):
    """Points a rating earns toward satisfaction_rate = Σ points / ratings."""

    satisfied: Weight = 1.0
    basically_satisfied: Weight = 0.8
    dissatisfied: Weight = 0.0

    @model_validator(mode="after")
    def _check(self) -> "SatisfactionPoints":
        if not self.satisfied >= self.basically_satisfied >= self.dissatisfied:
            raise ValueError("points must not rise as satisfaction falls (satisfied ≥ basically ≥ dissatisfied)")
        return self

    def as_tuple(self) -> tuple[float, float, float]:
        return self.satisfied, self.basically_satisfied, self.dissatisfied


class SatisfactionIndexWeights(StrictInput):
    """satisfaction_index (满意指数) = Σ w · component (each 0–100), renormalised over components present."""

    residents: Weight = 0.6
    resident_organisations: Weight = 0.2
    public_opinion: Weight = 0.2

    @model_validator(mode="after")
    def _check(self) -> "SatisfactionIndexWeights":
        _sums_to_one(self)
        return self


class Shrinkage(StrictInput):
    """Empirical-Bayes prior per level and rate (SPEC §7.3)."""

    min_units: Annotated[int, Field(ge=1, le=100_000)] = Field(
        5, description="Fewer units with data than this at a level: a fixed prior, not a fitted one"
    )
    fallback_strength: Strength = Field(10.0, description="Strength (α+β) of the fixed prior, at the level mean")
    min_strength: Strength = Field(1.0, description="Lower bound of a fitted prior's strength")
    max_strength: Strength = Field(10_000.0, description="Upper bound of a fitted prior's strength")

    @model_validator(mode="after")
    def _check(self) -> "Shrinkage":
        if self.min_strength > self.max_strength:
            raise ValueError("min_strength must not exceed max_strength")
        return self


class Interval(StrictInput):
    confidence: Annotated[float, Field(gt=0.5, lt=1, allow_inf_nan=False)] = Field(
        0.95, description="Confidence of the Wilson interval reported with every rate"
    )

    @property
    def z(self) -> float:
        return z_for(self.confidence)


class Rounding(StrictInput):
    """How answers and CSV show numbers (storage keeps the exact values; `verify` compares those)."""

    rate_decimals: Annotated[int, Field(ge=0, le=12)] = Field(
        4, description="Decimals of rates (0–1: raw, shrunk, interval, expected, adjusted, compliance)"
    )
    score_decimals: Annotated[int, Field(ge=0, le=12)] = Field(
        1, description="Decimals of 100-point scores (three-rate score, satisfaction index, cadre score)"
    )

    def rate(self, value: float | None) -> float | None:
        return None if value is None else round(value, self.rate_decimals)

    def score(self, value: float | None) -> float | None:
        return None if value is None else round(value, self.score_decimals)


class CadreWeights(StrictInput):
    """cadre_score = 100-point process × w_process + 100-point result × w_result (SPEC §7.4)."""

    process: Weight = 0.4
    result: Weight = 0.6

    @model_validator(mode="after")
    def _check(self) -> "CadreWeights":
        _sums_to_one(self)
        return self


class HandlerProcessWeights(StrictInput):
    """A handler's process score: visits against quota (grid workers), response rate, on-time resolution rate."""

    visit_compliance: Weight = 1 / 3
    response_rate: Weight = 1 / 3
    on_time_resolution_rate: Weight = 1 / 3

    @model_validator(mode="after")
    def _check(self) -> "HandlerProcessWeights":
        _sums_to_one(self)
        return self


class VisitQuota(StrictInput):
    """Household visits (进门入户) a grid worker is expected to log per period."""

    month: Quota = 20
    quarter: Quota = 60
    year: Quota = 240


class Cadre(StrictInput):
    weights: CadreWeights = CadreWeights()
    handler_process_weights: HandlerProcessWeights = HandlerProcessWeights()
    grid_worker_visit_quota: VisitQuota = VisitQuota()


class Grade(StrictInput):
    min_score: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
    label: Annotated[str, Field(min_length=1, max_length=20)]


DEFAULT_GRADES = [
    Grade(min_score=90, label="优秀"),
    Grade(min_score=80, label="良好"),
    Grade(min_score=60, label="合格"),
    Grade(min_score=0, label="不合格"),
]


class SchemeDocument(StrictInput):
    """A whole scoring scheme. Omitted parts take the SPEC defaults; the stored document spells them all out."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "three_rate_weights": {"response": 0.2, "resolution": 0.4, "satisfaction": 0.4},
                    "satisfaction_points": {"satisfied": 1.0, "basically_satisfied": 0.8, "dissatisfied": 0.0},
                    "satisfaction_index_weights": {
                        "residents": 0.6,
                        "resident_organisations": 0.2,
                        "public_opinion": 0.2,
                    },
                    "shrinkage": {"min_units": 5, "fallback_strength": 10, "min_strength": 1, "max_strength": 10000},
                    "interval": {"confidence": 0.95},
                    "rounding": {"rate_decimals": 4, "score_decimals": 1},
                    "cadre": {
                        "weights": {"process": 0.4, "result": 0.6},
                        "grid_worker_visit_quota": {"month": 20, "quarter": 60, "year": 240},
                    },
                    "grades": [
                        {"min_score": 90, "label": "优秀"},
                        {"min_score": 80, "label": "良好"},
                        {"min_score": 60, "label": "合格"},
                        {"min_score": 0, "label": "不合格"},
                    ],
                }
            ]
        },
    )

    three_rate_weights: ThreeRateWeights = ThreeRateWeights()
    satisfaction_points: SatisfactionPoints = SatisfactionPoints()
    satisfaction_index_weights: SatisfactionIndexWeights = SatisfactionIndexWeights()
    shrinkage: Shrinkage = Shrinkage()
    interval: Interval = Interval()
    rounding: Rounding = Rounding()
    cadre: Cadre = Cadre()
    grades: Annotated[list[Grade], Field(max_length=10)] = Field(
        default_factory=lambda: list(DEFAULT_GRADES),
        description="Grade bands on the 100-point scores: the first band (highest min_score) a score reaches",
    )
    publish_after_days: Annotated[int | None, Field(ge=0, le=365)] = Field(
        None,
        description="Publish (公示) a finished run automatically this many days after it finished, leaving time "
        "for appeals (the `auto_publish_score_runs` cron); null: only a supervisor publishes",
    )

    @model_validator(mode="after")
    def _check(self) -> "SchemeDocument":
        scores = [g.min_score for g in self.grades]
        if len(set(scores)) != len(scores):
            raise ValueError("grades: two bands have the same min_score")
        self.grades = sorted(self.grades, key=lambda g: -g.min_score)
        return self

    def grade(self, score: float | None) -> str | None:
        if score is None:
            return None
        for band in self.grades:
            if score >= band.min_score:
                return band.label
        return None
