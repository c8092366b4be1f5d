"""The intake API: native `/v1` API, admin and configuration, auth. Started by uvicorn."""

from fastapi import FastAPI

from intake_api.routers import admin_config, admin_identity, admin_org, auth, catalog, requests, track, visits, workflow
from shared.web import create_base_app

DESCRIPTION = """
Minqing (民情) intake API: receives the public's requests from every channel and manages the
organisation, catalog, responsibility matrix, SLA policies and access.

* Staff log in at `POST /v1/auth/token` (OAuth2 password flow) and send `Authorization: Bearer …`.
* Integrations send `X-API-Key: mq_…`.
* Errors are RFC 9457 `application/problem+json`; validation errors list each field in `errors[]`.
"""


def create_app() -> FastAPI:
    app = create_base_app(title="Minqing intake API", description=DESCRIPTION, service="intake_api")
    for module in (auth, requests, workflow, track, visits, catalog, admin_org, admin_config, admin_identity):
        app.include_router(module.router)
    return app


app = create_app()
