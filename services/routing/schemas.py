"""Schemas of the responsibility matrix."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from services.org.schemas import CategoryPrefix, Code, HandlerKind


class RuleCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "category_prefix": "env.pollution",
                    "org_unit_code": "330203",
                    "handler_kind": "joint",
                    "lead_department_code": "HB",
                    "co_department_codes": ["CG"],
                }
            ]
        },
    )

    category_prefix: CategoryPrefix
    org_unit_code: Code
    handler_kind: HandlerKind
    lead_department_code: Annotated[Code | None, Field(validate_default=True)] = None
    co_department_codes: Annotated[list[Code], Field(max_length=20, validate_default=True)] = []

    # Field validators (not a model validator) so that each error names the field at fault.
    @field_validator("lead_department_code")
    @classmethod
    def _lead(cls, value: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("handler_kind")
        if kind == "grid_team" and value is not None:
            raise ValueError("a grid_team rule names no department")
        if kind in ("department", "joint") and value is None:
            raise ValueError(f"a {kind} rule names its lead department")
        return value

    @field_validator("co_department_codes")
    @classmethod
    def _co(cls, value: list[str], info: ValidationInfo) -> list[str]:
        kind = info.data.get("handler_kind")
        if kind in ("grid_team", "department") and value:
            raise ValueError(f"a {kind} rule names no co-departments")
        if kind == "joint" and not value:
            raise ValueError("a joint rule names its co-departments")
        if info.data.get("lead_department_code") in value:
            raise ValueError("the lead department cannot also be a co-department")
        if len(set(value)) != len(value):
            raise ValueError("co_department_codes must be distinct")
        return value


class RuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    category_prefix: str
    org_unit_code: str
    handler_kind: HandlerKind
    lead_department_code: str | None
    co_department_codes: list[str]
    version: int
