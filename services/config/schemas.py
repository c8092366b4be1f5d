"""The rule settings (SPEC §12: every number the rules use is configuration): their defaults and limits.

One document in five groups. Every field has its default, so a document may leave out what it does not
change; unknown fields are refused (a typo must not pass for a change). docs/configuration.md explains
each one.
"""

from datetime import time
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from shared.schemas import LocalDateTime, StrictInput

# A wall-clock time in whole minutes, 00:00 to 23:59.
ClockTime = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$"), Field(examples=["08:30"])]
OfficePeriod = Annotated[list[ClockTime], Field(min_length=2, max_length=2, description="[start, end), local time")]
MAX_OFFICE_PERIODS = 8
DEFAULT_OFFICE_HOURS = [["08:30", "12:00"], ["13:30", "17:30"]]


def parse_clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def check_office_hours(periods: list[list[str]]) -> list[list[str]]:
    """Each period starts before it ends; periods are in order and do not overlap (they may touch)."""
    previous_end: time | None = None
    for index, (raw_start, raw_end) in enumerate(periods):
        start, end = parse_clock(raw_start), parse_clock(raw_end)
        if start >= end:
            raise ValueError(f"period {index} ({raw_start}–{raw_end}) must start before it ends")
        if previous_end is not None and start < previous_end:
            raise ValueError(f"period {index} ({raw_start}–{raw_end}) overlaps or precedes the one before it")
        previous_end = end
    return periods


class SlaRules(StrictInput):
    """The SLA clock: what a working day is, and when a request turns yellow (黄牌)."""

    office_hours: Annotated[list[OfficePeriod], Field(min_length=1, max_length=MAX_OFFICE_PERIODS)] = Field(
        default_factory=lambda: [list(p) for p in DEFAULT_OFFICE_HOURS],
        description="A working day's office periods `[start, end)` in the city's local time, in order, "
        "not overlapping; every working-time deadline (working hours, working days) counts only these",
    )
    warning_share: float = Field(
        0.8, gt=0, lt=1, description="A request turns `warning` when this share of its time allowed has passed"
    )

    _check_office_hours = field_validator("office_hours")(check_office_hours)


class DuplicateRules(StrictInput):
    """When a new request is linked as a duplicate of an open one (SPEC §3)."""

    nearby_metres: float = Field(50, gt=0, le=5000, description="Same category within this great-circle distance")
    nearby_window_hours: float = Field(72, gt=0, le=2160, description="… received within this many hours")
    same_phone_window_hours: float = Field(
        24, gt=0, le=2160, description="Same phone and near-identical text within this many hours"
    )
    same_phone_similarity: float = Field(
        0.9, gt=0, le=1, description="Character-trigram Jaccard similarity the same-phone rule needs"
    )
    same_unit_similarity: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Text similarity (trigram Jaccard) the same-org-unit rule (no coordinates) needs; 0: none",
    )


class HotspotRules(StrictInput):
    """When the hot-spot scan raises an alert (SPEC §6)."""

    min_count: int = Field(5, ge=1, le=100_000, description="Requests in the window a hot spot needs at least")
    key_group_min_count: int = Field(3, ge=1, le=100_000, description="… for key-group categories")
    p_value: float = Field(
        0.001, gt=0, lt=1, description="The Poisson tail probability of the count must be below this"
    )
    baseline_days: int = Field(28, ge=1, le=365, description="Days before the window whose daily mean is the baseline")
    window_hours: int = Field(24, ge=1, le=168, description="The counting window (aligned to the hour)")


class FeedbackRules(StrictInput):
    """Closing resolved requests nobody evaluated (SPEC §5)."""

    no_evaluation_close_days: float = Field(
        7, gt=0, le=365, description="A resolved request without feedback closes as `no_evaluation` after this"
    )


class HandlingRules(StrictInput):
    """Returns and escalation (SPEC §5, §12)."""

    returns_before_dispatch: int = Field(
        1, ge=0, le=20, description="Returns re-routed automatically; the next return goes to a dispatcher"
    )
    return_review_required: bool = Field(
        False, description="A return waits for a dispatcher's review before the request is re-routed"
    )
    escalation_delay_hours: float = Field(
        24, gt=0, le=720, description="Hours an escalated request may stay unhandled before it climbs one level more"
    )
    extension_max_days: float = Field(
        30, gt=0, le=365, description="How far past the current resolution deadline one extension (延期) may reach"
    )
    extensions_per_request: int = Field(2, ge=0, le=20, description="Extensions approved at most per request")
    supervision_order_max_days: float = Field(
        90, gt=0, le=365, description="How far ahead a supervision order's (督办) due date may lie"
    )


RULE_EXAMPLE: dict[str, Any] = {
    "sla": {"office_hours": [["09:00", "12:00"], ["13:00", "17:00"]], "warning_share": 0.8},
    "duplicates": {
        "nearby_metres": 50,
        "nearby_window_hours": 72,
        "same_phone_window_hours": 24,
        "same_phone_similarity": 0.9,
        "same_unit_similarity": 0.5,
    },
    "hotspots": {"min_count": 5, "key_group_min_count": 3, "p_value": 0.001, "baseline_days": 28, "window_hours": 24},
    "feedback": {"no_evaluation_close_days": 7},
    "handling": {
        "returns_before_dispatch": 1,
        "return_review_required": False,
        "escalation_delay_hours": 24,
        "extension_max_days": 30,
        "extensions_per_request": 2,
        "supervision_order_max_days": 90,
    },
}


class RuleSettings(StrictInput):
    """Every number the rules use. In a `PATCH`, only the fields sent change (groups merge field by field)."""

    model_config = ConfigDict(json_schema_extra={"examples": [RULE_EXAMPLE]})

    sla: SlaRules = Field(default_factory=SlaRules)
    duplicates: DuplicateRules = Field(default_factory=DuplicateRules)
    hotspots: HotspotRules = Field(default_factory=HotspotRules)
    feedback: FeedbackRules = Field(default_factory=FeedbackRules)
    handling: HandlingRules = Field(default_factory=HandlingRules)


class RuleSettingsOut(BaseModel):
    """The rule settings in force, with their version (send it back in `If-Match` to change them)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "version": 2,
                    "updated_at": "2026-12-04T09:30:00+08:00",
                    "updated_by": "staff:1",
                    "rules": RULE_EXAMPLE,
                }
            ]
        }
    )

    version: int = Field(description="Starts at 1 (the defaults); each change adds one")
    updated_at: LocalDateTime | None = Field(description="When they last changed; null: never (the defaults)")
    updated_by: str | None = Field(description="Who changed them last (`staff:<id>`)")
    rules: RuleSettings


def merge(current: BaseModel, patch: BaseModel) -> dict[str, Any]:
    """`current` as a dict with the fields `patch` was given (its `model_fields_set`) replaced, nested
    models merged field by field (a JSON merge patch over the document)."""
    merged = current.model_dump(mode="json")
    for name in patch.model_fields_set:
        given, existing = getattr(patch, name), getattr(current, name)
        if isinstance(given, BaseModel) and isinstance(existing, BaseModel):
            merged[name] = merge(existing, given)
        else:
            merged[name] = patch.model_dump(mode="json", include={name})[name]
    return merged


def changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The leaves that differ between two documents, as (before, after), keeping the group nesting."""
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for key in sorted(before.keys() | after.keys()):
        a, b = before.get(key), after.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            sub_old, sub_new = changes(a, b)
            if sub_old or sub_new:
                old[key], new[key] = sub_old, sub_new
        elif a != b:
            old[key], new[key] = a, b
    return old, new


__all__ = [
    "DuplicateRules",
    "FeedbackRules",
    "HandlingRules",
    "HotspotRules",
    "RuleSettings",
    "RuleSettingsOut",
    "SlaRules",
    "changes",
    "check_office_hours",
    "merge",
    "parse_clock",
]
