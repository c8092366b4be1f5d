"""The app factory: a FastAPI app with what every Minqing app has."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from shared.db import dispose_engine
from shared.logging import configure_logging
from shared.queue import close_queue
from shared.settings import get_settings
from shared.web.docs import serve_docs
from shared.web.errors import install_error_handlers
from shared.web.health import health_router
from shared.web.middleware import BodyLimitMiddleware, RequestContextMiddleware
from shared.web.openapi import document_errors_as_problems


def create_base_app(*, title: str, description: str, service: str) -> FastAPI:
    """A FastAPI app with what every Minqing app has: errors, limits, request ids, health, metrics."""
    settings = get_settings()
    settings.check_production()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level)
        yield
        await close_queue()
        await dispose_engine()

    app = FastAPI(
        title=title,
        description=description,
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served by `serve_docs`, from the platform itself rather than public CDNs
        redoc_url=None,
        debug=False,
    )
    install_error_handlers(app)
    app.add_middleware(
        BodyLimitMiddleware,
        default=settings.max_body_bytes,
        overrides={
            "/grids/import": settings.import_max_body_bytes,
            # An upload's files, each up to its limit, and the form around them (docs/attachments.md).
            "/attachments": settings.attachment_max_files * settings.attachment_max_bytes + 65_536,
        },
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-API-Key", "Idempotency-Key", "If-Match"],
        )
    app.add_middleware(RequestContextMiddleware, service=service)
    app.include_router(health_router())
    serve_docs(app)
    document_errors_as_problems(app)
    return app
