"""Admin: the rule settings, every number the rules use (office hours, warning share, duplicate and
hot-spot thresholds, no-evaluation close, returns, escalation delays; SPEC §12)."""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Response

from intake_api.deps import AdminPrincipal, current_principal
from services.audit.auth import READERS
from services.config import service as config
from services.config.schemas import RULE_EXAMPLE, RuleSettings, RuleSettingsOut
from services.sla import calendar_admin
from shared.auth import Principal
from shared.deps import IfMatch, SessionDep, require_roles
from shared.web.errors import problem_responses

router = APIRouter(prefix="/v1/admin/settings", tags=["admin: configuration"])
Reader = Annotated[Principal, Depends(require_roles(current_principal, *sorted(READERS)))]
WRITE = problem_responses(401, 403, 409, 422, 428)
PATCH_EXAMPLES = {
    "office hours": {
        "summary": "Change the office hours only",
        "value": {"sla": {"office_hours": [["09:00", "12:00"], ["13:00", "17:00"]]}},
    },
    "duplicates": {"summary": "Widen the nearby-duplicate distance", "value": {"duplicates": {"nearby_metres": 80}}},
}


def _answer(response: Response, snapshot: config.Snapshot) -> RuleSettingsOut:
    response.headers["ETag"] = f'"{snapshot.version}"'
    return snapshot.out()


async def _applied(session: SessionDep, change: config.Change) -> config.Snapshot:
    if "sla" in change.changed:
        # Office hours or the warning share moved: the deadlines still ahead are recomputed, as after a
        # holiday change (the next requests get the new ones at once).
        calendar_admin.deadline_rules_changed(session)
    return change.snapshot


@router.get("", response_model=RuleSettingsOut, responses=problem_responses(401, 403))
async def get_settings(session: SessionDep, principal: Reader, response: Response) -> RuleSettingsOut:
    """The rule settings in force and their version (`ETag`); admins and auditors."""
    return _answer(response, await config.snapshot(session, fresh=True))


@router.put("", response_model=RuleSettingsOut, responses=WRITE)
async def replace_settings(
    session: SessionDep,
    principal: AdminPrincipal,
    response: Response,
    if_match: IfMatch,
    body: Annotated[
        RuleSettings, Body(openapi_examples={"defaults": {"summary": "Every rule", "value": RULE_EXAMPLE}})
    ],
) -> RuleSettingsOut:
    """Put a whole settings document in force (fields left out take their defaults).

    City administrators only. Send the version you read in `If-Match` (`409` when it moved on, `428`
    without it). Each change is in the admin audit trail with its before and after, and applies without
    a restart: at once in this process, within 5 s in every other one.
    """
    change = await config.replace(session, principal, body, if_match)
    return _answer(response, await _applied(session, change))


@router.patch("", response_model=RuleSettingsOut, responses=WRITE)
async def update_settings(
    session: SessionDep,
    principal: AdminPrincipal,
    response: Response,
    if_match: IfMatch,
    body: Annotated[RuleSettings, Body(openapi_examples=PATCH_EXAMPLES)],
) -> RuleSettingsOut:
    """Change only the fields you send (a JSON merge patch: groups merge field by field).

    City administrators only; `If-Match` as for `PUT`.
    """
    change = await config.update(session, principal, body, if_match)
    return _answer(response, await _applied(session, change))
