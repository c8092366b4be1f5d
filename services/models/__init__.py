"""Every ORM table, one module per domain, in one package below every domain: tables of several
domains refer to each other (requests to units, assignments to staff), and one package keeps those
references from becoming imports between domains. Import tables from here: `from services.models import Request`."""

# Newer domains' tables, registered by importing their modules; import those tables from the module itself.
from services.models import attachments, messages, retention, rotation, seals  # noqa: F401
from services.models.alerts import HotspotAlert
from services.models.audit import AdminAuditEntry
from services.models.config import RuleSettingsRow
from services.models.handling import CoTask, Feedback, RequestReturn
from services.models.history import OrgHistoryEntry, RequestState
from services.models.identity import ApiKey, StaffAccount
from services.models.intake import (
    Assessment,
    IdempotencyKey,
    OutboxEntry,
    Request,
    RequestEvent,
    TrackingNumber,
    Visit,
)
from services.models.org import Category, Department, Member, OrgUnit, Team
from services.models.routing import Assignment, LeaderLink, ResponsibilityRule
from services.models.scoring import ScoreAppeal, ScoreResult, ScoreRun, ScoreRunFact, ScoringScheme
from services.models.sla import CalendarDay, SlaPolicy
from services.models.supervision import DeadlineExtension, Escalation, SupervisionOrder
from services.models.webhooks import WebhookDelivery, WebhookSubscription
from shared.orm import Base

__all__ = [
    "AdminAuditEntry",
    "ApiKey",
    "Assessment",
    "Assignment",
    "Base",
    "CalendarDay",
    "Category",
    "CoTask",
    "DeadlineExtension",
    "Department",
    "Escalation",
    "Feedback",
    "HotspotAlert",
    "IdempotencyKey",
    "LeaderLink",
    "Member",
    "OrgHistoryEntry",
    "OrgUnit",
    "OutboxEntry",
    "Request",
    "RequestEvent",
    "RequestReturn",
    "RequestState",
    "ResponsibilityRule",
    "RuleSettingsRow",
    "ScoreAppeal",
    "ScoreResult",
    "ScoreRun",
    "ScoreRunFact",
    "ScoringScheme",
    "SlaPolicy",
    "StaffAccount",
    "SupervisionOrder",
    "Team",
    "TrackingNumber",
    "Visit",
    "WebhookDelivery",
    "WebhookSubscription",
]
