"""Citizen tracking without login: a tracking number plus the phone's last four digits or the token."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from services.handling import service as handling
from services.handling.schemas import CitizenFeedbackIn, FeedbackOut
from services.intake import service
from services.intake.schemas import TrackOut
from shared.deps import SessionDep
from shared.ratelimit import hit
from shared.settings import get_settings
from shared.web.errors import problem_responses

router = APIRouter(prefix="/v1/track", tags=["citizen tracking"])
TrackingNo = Annotated[str, Path(min_length=1, max_length=40, examples=["261126482177353"])]
PhoneLast4 = Annotated[str | None, Query(pattern=r"^\d{4}$", description="The last four digits of the phone given")]
CitizenToken = Annotated[str | None, Query(min_length=1, max_length=100, description="`citizen_token` from the 201")]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get("/{tracking_no}", response_model=TrackOut, responses=problem_responses(404, 422, 429))
async def track_request(
    request: Request,
    session: SessionDep,
    tracking_no: TrackingNo,
    phone_last4: PhoneLast4 = None,
    citizen_token: CitizenToken = None,
) -> TrackOut:
    """Status, deadlines and public notes of your request; no personal data. Rate-limited per IP."""
    settings = get_settings()
    await hit(f"track:{client_ip(request)}", settings.citizen_rate_per_minute, 60)
    return await service.track(session, tracking_no, phone_last4=phone_last4, citizen_token=citizen_token)


@router.post("/{tracking_no}/feedback", response_model=FeedbackOut, responses=problem_responses(404, 409, 422, 429))
async def citizen_feedback(
    request: Request, session: SessionDep, tracking_no: TrackingNo, body: CitizenFeedbackIn
) -> FeedbackOut:
    """Evaluate the handling of your request (once per resolution). Rate-limited per IP."""
    settings = get_settings()
    await hit(f"track:{client_ip(request)}", settings.citizen_rate_per_minute, 60)
    found = await service.find_for_citizen(
        session, tracking_no, phone_last4=body.phone_last4, citizen_token=body.citizen_token
    )
    locked = await handling.request_for_feedback(session, found.id)
    status, reopened = await handling.record_feedback(session, locked, body, "citizen")
    return FeedbackOut(request_id=locked.id, resolution_no=locked.resolution_no, status=status, reopened=reopened)
