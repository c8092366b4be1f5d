"""Every ORM table, imported in one place so Alembic and the tests see the whole schema."""

from services.identity.models import ApiKey, StaffAccount
from services.org.models import Category, Department, Member, OrgUnit, ResponsibilityRule, SlaPolicy, Team
from shared.orm import Base

__all__ = [
    "ApiKey",
    "Base",
    "Category",
    "Department",
    "Member",
    "OrgUnit",
    "ResponsibilityRule",
    "SlaPolicy",
    "StaffAccount",
    "Team",
]
