"""Checking the trails against their seals (issue 17): auditors and admins."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends

from intake_api.deps import current_principal
from services.audit.auth import READERS
from services.lifecycle import seals
from services.lifecycle.seal_schemas import TrailVerifyOut, report_out
from shared.auth import Principal
from shared.deps import SessionDep, require_roles
from shared.web.errors import problem_responses

router = APIRouter(prefix="/v1/audit", tags=["admin: audit"])
Reader = Annotated[Principal, Depends(require_roles(current_principal, *sorted(READERS)))]


@router.get(
    "/verify",
    response_model=TrailVerifyOut,
    responses=problem_responses(401, 403),
    summary="Check every trail against its seals",
)
async def verify(session: SessionDep, principal: Reader) -> TrailVerifyOut:
    """Check every seal (numbering, links, Merkle roots, signatures under the trail seal key) and every
    request's event chain against its latest sealed head, and the sealed admin audit rows: edits, deletions
    and truncations are listed. Reads everything: on a large database prefer `python -m cli verify-trail`,
    which streams its findings."""
    report = await seals.verify_trails(session)
    return report_out(report, datetime.now(UTC))
