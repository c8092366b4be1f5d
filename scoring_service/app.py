"""The scoring service: scores, rankings, cadre evaluation, public disclosure. Started by uvicorn."""

from fastapi import FastAPI

from shared.web import create_base_app

DESCRIPTION = """
Minqing (民情) scoring service: the three rates, satisfaction index, cadre evaluation, rankings
and public disclosure. Accepts the same staff JWTs as the intake API.
"""


def create_app() -> FastAPI:
    return create_base_app(title="Minqing scoring service", description=DESCRIPTION, service="scoring_service")


app = create_app()
