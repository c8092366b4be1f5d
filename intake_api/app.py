"""The intake API: native `/v1` API, admin and configuration, auth. Started by uvicorn."""

from fastapi import FastAPI

from console.app import mount_console
from intake_api.routers import (
    admin_audit,
    admin_calendar,
    admin_config,
    admin_identity,
    admin_leaders,
    admin_org,
    admin_pii,
    admin_settings,
    alerts,
    attachments,
    audit_verify,
    auth,
    catalog,
    directory,
    geo,
    messages,
    open311,
    requests,
    search,
    supervision,
    track,
    visits,
    webhook_events,
    webhooks,
    workflow,
)
from services.sla.calendar_admin import coverage_warnings
from shared.db import unit_of_work
from shared.web.app import create_base_app
from shared.web.errors import register_error_renderer
from shared.web.health import add_readiness_warning

DESCRIPTION = """
Minqing (民情) intake API: receives the public's requests from every channel and manages the
organisation, catalog, responsibility matrix, SLA policies and access.

* Staff log in at `POST /v1/auth/token` (OAuth2 password flow) and send `Authorization: Bearer …`.
* Integrations send `X-API-Key: mq_…`.
* Errors are RFC 9457 `application/problem+json`; validation errors list each field in `errors[]`.
"""


def create_app() -> FastAPI:
    app = create_base_app(title="Minqing intake API", description=DESCRIPTION, service="intake_api")
    for module in (auth, requests, workflow, track, visits, catalog, admin_org, admin_config, admin_identity, alerts):
        app.include_router(module.router)
    app.include_router(admin_calendar.router)
    app.include_router(admin_settings.router)
    app.include_router(admin_audit.router)
    app.include_router(admin_leaders.router)
    app.include_router(webhooks.router)
    app.include_router(supervision.router)
    app.include_router(directory.router)
    app.include_router(audit_verify.router)
    app.include_router(admin_pii.router)  # PII key rotation (docs/operations.md)
    app.include_router(geo.router)
    app.include_router(attachments.router)
    app.include_router(search.router)  # search, phone lookup, exports, open data (docs/search.md)
    app.webhooks.include_router(webhook_events.router)
    messages.register(app)  # messages to citizens: SMS replies, feedback links, admin view (docs/messages.md)
    app.include_router(open311.router)
    register_error_renderer(app, "/open311", open311.render_error)
    add_readiness_warning(app, _calendar_coverage)
    mount_console(app)  # the web console at /console/ (console/, docs/console.md)
    return app


async def _calendar_coverage() -> list[str]:
    async with unit_of_work() as session:
        return await coverage_warnings(session)


app = create_app()
