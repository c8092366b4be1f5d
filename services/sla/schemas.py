"""Schemas of SLA policies."""

from pydantic import BaseModel, ConfigDict, Field

from services.org.schemas import Amount, CategoryPrefix, Name, Priority, SlaUnit
from shared.schemas import StrictInput


class SlaPolicyCreate(StrictInput):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "一般诉求",
                    "category_prefix": "*",
                    "priority": "normal",
                    "respond_amount": 2,
                    "respond_unit": "working_hours",
                    "resolve_amount": 7,
                    "resolve_unit": "working_days",
                }
            ]
        },
    )

    name: Name
    category_prefix: CategoryPrefix
    priority: Priority | None = None
    respond_amount: Amount
    respond_unit: SlaUnit
    resolve_amount: Amount
    resolve_unit: SlaUnit


class SlaPolicyUpdate(StrictInput):
    model_config = ConfigDict(json_schema_extra={"examples": [{"resolve_amount": 5, "version": 1}]})

    name: Name | None = None
    respond_amount: Amount | None = None
    respond_unit: SlaUnit | None = None
    resolve_amount: Amount | None = None
    resolve_unit: SlaUnit | None = None
    version: int | None = Field(default=None, ge=1)


class SlaPolicyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    category_prefix: str
    priority: Priority | None
    respond_amount: float
    respond_unit: SlaUnit
    resolve_amount: float
    resolve_unit: SlaUnit
    version: int
