"""Appeals (申诉/核减): a handling unit asks that a request not count in its rates; a supervisor decides."""

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from scoring_service.deps import DeciderPrincipal, StaffPrincipal
from services.scoring import appeals
from services.scoring.appeals import AppealView
from services.scoring.schemas import AppealCreate, AppealDecision, AppealOut, AppealRevoke
from shared.deps import IfMatch, SessionDep
from shared.pagination import Page
from shared.params import DEFAULT_LIMIT, Cursor, Limit
from shared.views import Rows
from shared.web.errors import problem_responses

router = APIRouter(prefix="/v1/scores/appeals", tags=["appeals"])
AppealId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.post(
    "",
    status_code=201,
    response_model=AppealOut,
    responses={
        201: {
            "description": "Filed; `Location` points at the appeal",
            "links": {
                "GetAppeal": {
                    "operationId": "get_appeal_v1_scores_appeals__appeal_id__get",
                    "parameters": {"appeal_id": "$response.body#/id"},
                },
                "DecideAppeal": {
                    "operationId": "decide_appeal_v1_scores_appeals__appeal_id__decision_post",
                    "parameters": {"appeal_id": "$response.body#/id"},
                },
                "RevokeAppeal": {
                    "operationId": "revoke_appeal_v1_scores_appeals__appeal_id__revoke_post",
                    "parameters": {"appeal_id": "$response.body#/id"},
                },
            },
        },
        **problem_responses(401, 403, 404, 409, 413, 422),
    },
)
async def file_appeal(
    session: SessionDep, principal: StaffPrincipal, body: AppealCreate, response: Response
) -> AppealView:
    """Appeal a request's inclusion in your unit's rates (an unreasonable demand, or not your responsibility).

    Filed by a member of the grid team or department (or an admin), for a request dispatched to it.
    Approved, it removes the request from that unit's rates in runs whose as_of is after the decision.
    """
    created = await appeals.file_appeal(session, principal, body)
    response.headers["Location"] = f"/v1/scores/appeals/{created.id}"
    return created


@router.get("", response_model=Page[AppealOut], responses=problem_responses(401, 403, 422))
async def list_appeals(
    session: SessionDep,
    principal: StaffPrincipal,
    status: Annotated[Literal["pending", "approved", "rejected", "revoked"] | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Rows[AppealView]:
    """Appeals of the handling units in your scope, oldest first."""
    return await appeals.list_appeals(session, principal, status=status, cursor=cursor, limit=limit)


@router.get("/{appeal_id}", response_model=AppealOut, responses=problem_responses(401, 403, 404, 422))
async def get_appeal(session: SessionDep, principal: StaffPrincipal, appeal_id: AppealId) -> AppealView:
    """One appeal."""
    return await appeals.get_appeal(session, principal, appeal_id)


@router.post(
    "/{appeal_id}/decision", response_model=AppealOut, responses=problem_responses(401, 403, 404, 409, 422, 428)
)
async def decide_appeal(
    session: SessionDep, principal: DeciderPrincipal, appeal_id: AppealId, body: AppealDecision, if_match: IfMatch
) -> AppealView:
    """Approve or reject a pending appeal (supervisor or admin in scope; not the filer). Send the version read.

    The decision and its note go into the request's trail. An approval after the period's run was
    published queues a corrected run, republished when it finishes.
    """
    return await appeals.decide_appeal(session, principal, appeal_id, body, if_match)


@router.post("/{appeal_id}/revoke", response_model=AppealOut, responses=problem_responses(401, 403, 404, 409, 422, 428))
async def revoke_appeal(
    session: SessionDep, principal: DeciderPrincipal, appeal_id: AppealId, body: AppealRevoke, if_match: IfMatch
) -> AppealView:
    """Revoke an approved appeal (supervisor or admin in scope), with a reason. Send the version read.

    Runs counting decisions after the revocation count the request for the unit again; the revocation and
    its reason go into the request's trail; a published run of the period is corrected and republished.
    """
    return await appeals.revoke_appeal(session, principal, appeal_id, body, if_match)
