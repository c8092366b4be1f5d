"""Every ORM table, imported in one place so Alembic and the tests see the whole schema."""

from services.alerts.models import HotspotAlert
from services.handling.models import Feedback
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
from services.routing.models import Assignment, LeaderLink
from services.scoring.models import ScoreAppeal, ScoreResult, ScoreRun, ScoringScheme
from services.sla.models import CalendarDay
from services.webhooks.models import WebhookDelivery, WebhookSubscription
from shared.orm import Base

__all__ = [
    "ApiKey",
    "Assessment",
    "Assignment",
    "Base",
    "CalendarDay",
    "Category",
    "Department",
    "Feedback",
    "HotspotAlert",
    "IdempotencyKey",
    "LeaderLink",
    "Member",
    "OrgUnit",
    "OutboxEntry",
    "Request",
    "RequestEvent",
    "ResponsibilityRule",
    "ScoreAppeal",
    "ScoreResult",
    "ScoreRun",
    "ScoringScheme",
    "SlaPolicy",
    "StaffAccount",
    "Team",
    "Visit",
    "WebhookDelivery",
    "WebhookSubscription",
]
