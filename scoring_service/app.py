"""The scoring service: scores, rankings, cadre evaluation, public disclosure. Started by uvicorn."""

from fastapi import FastAPI

from intake_api.routers.auth import login
from scoring_service.routers import appeals, public, rankings, runs, schemes, scores
from services.identity.schemas import TokenOut
from shared.web.app import create_base_app

DESCRIPTION = """
Minqing (民情) scoring service: the three rates, satisfaction index, cadre evaluation, rankings
and public disclosure. Accepts the same staff JWTs as the intake API.

* Scores come from stored **runs**: a period (`2026-10`, `2026-Q4`, `2026`), an `as_of` time and a scheme
  version. `POST /v1/scores/runs` computes one; reads use the period's latest finished run.
* Every rate is reported raw, with `n`, a Wilson interval, an empirical-Bayes shrunk value and a
  case-mix adjusted value; rankings use shrunk values.
* Staff see the units and people in their subtree; `/v1/public/*` needs no login and shows no personal data.
* Errors are RFC 9457 `application/problem+json`; validation errors list each field in `errors[]`.
"""


def create_app() -> FastAPI:
    app = create_base_app(title="Minqing scoring service", description=DESCRIPTION, service="scoring_service")
    for module in (runs, scores, rankings, appeals, schemes, public):
        app.include_router(module.router)
    # The OAuth2 scheme's token URL is relative, so this service's `/docs` "Authorize" posts here: answer it
    # with the intake API's own login (same limits, same failure counters), documented there, not here.
    app.add_api_route(
        "/v1/auth/token", login, methods=["POST"], response_model=TokenOut, include_in_schema=False, tags=["auth"]
    )
    return app


app = create_app()
