"""Grid workers' household visits, leaders' contacts, and assessments of units."""

from fastapi import APIRouter

from intake_api.deps import CurrentPrincipal
from services.intake import service
from services.intake.schemas import AssessmentCreate, AssessmentOut, VisitCreate, VisitOut
from shared.deps import SessionDep
from shared.web.errors import problem_responses

router = APIRouter(prefix="/v1", tags=["visits and assessments"])


@router.post("/visits", status_code=201, response_model=VisitOut, responses=problem_responses(401, 403, 413, 422))
async def create_visit(session: SessionDep, principal: CurrentPrincipal, body: VisitCreate) -> VisitOut:
    """Log a household visit (进门入户) or a leader's contact, with any requests raised during it."""
    return await service.create_visit(session, principal, body)


@router.post(
    "/assessments", status_code=201, response_model=AssessmentOut, responses=problem_responses(401, 403, 409, 422)
)
async def create_assessment(session: SessionDep, principal: CurrentPrincipal, body: AssessmentCreate) -> AssessmentOut:
    """Record a 0–100 assessment of a unit for a period (驻区单位考核 or 社会舆论评价)."""
    return await service.create_assessment(session, principal, body)
