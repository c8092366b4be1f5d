"""Every ORM table, imported in one place so Alembic and the tests see the whole schema."""

from services.identity.models import ApiKey, StaffAccount
from services.intake.models import (
    Assessment,
    IdempotencyKey,
    OutboxEntry,
    Request,
    RequestEvent,
    Visit,
)
from services.org.models import Category, Department, Member, OrgUnit, ResponsibilityRule, SlaPolicy, Team
from services.sla.models import CalendarDay
from shared.orm import Base

__all__ = [
    "ApiKey",
    "Assessment",
    "Base",
    "CalendarDay",
    "Category",
    "Department",
    "IdempotencyKey",
    "Member",
    "OrgUnit",
    "OutboxEntry",
    "Request",
    "RequestEvent",
    "ResponsibilityRule",
    "SlaPolicy",
    "StaffAccount",
    "Team",
    "Visit",
]
