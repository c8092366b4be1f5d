"""Staff login (OAuth2 password flow) and "who am I"."""

import hashlib
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm

from intake_api.deps import CurrentPrincipal
from services.audit import service as audit
from services.identity import service
from services.identity.errors import LoginLocked
from services.identity.schemas import MeOut, TokenOut
from shared.deps import SessionDep
from shared.errors import NotAuthenticated
from shared.queue import get_queue
from shared.ratelimit import count
from shared.settings import get_settings
from shared.web.errors import problem_responses

router = APIRouter(prefix="/v1", tags=["auth"])


def _failure_keys(request: Request, username: str) -> list[tuple[str, int]]:
    """The failed-login counters this attempt counts against, with their limits: the account and the address."""
    settings = get_settings()
    window = int(time.time() // settings.login_failure_window_seconds)
    account = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    address = request.client.host if request.client else "unknown"
    return [
        (f"minqing:login-failures:user:{account}:{window}", settings.login_failures_per_user),
        (f"minqing:login-failures:ip:{address}:{window}", settings.login_failures_per_ip),
    ]


async def _refuse_when_locked(keys: list[tuple[str, int]]) -> None:
    redis = await get_queue()
    counts = await redis.mget([key for key, _ in keys])
    if any(int(count or 0) >= limit for count, (_, limit) in zip(counts, keys, strict=True)):
        window = get_settings().login_failure_window_seconds
        retry = window - int(time.time() % window)
        raise LoginLocked("Too many failed logins; retry later", headers={"Retry-After": str(retry)})


async def _count_failure(keys: list[tuple[str, int]]) -> None:
    window = get_settings().login_failure_window_seconds
    for key, _ in keys:
        await count(key, window + 1)


async def _audit_failure(username: str, address: str | None, reason: str) -> None:
    """A failed login in the admin audit trail: the name tried, never the password."""
    await audit.record_detached(
        audit.ANONYMOUS,
        "login.failed",
        "staff",
        None,
        after={"username": username, "reason": reason},
        actor_name=username,
        client_ip=address,
    )


@router.post("/auth/token", response_model=TokenOut, responses=problem_responses(401, 422, 429))
async def login(
    request: Request,
    response: Response,
    session: SessionDep,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> TokenOut:
    """Log a staff member in; answers a short-lived bearer token (JWT). Failed logins are limited."""
    keys = _failure_keys(request, form.username)
    address = request.client.host if request.client else None
    try:
        await _refuse_when_locked(keys)
    except LoginLocked:
        # Once per account and window: refusals cost no password check, so each one must not cost a write.
        if await count(f"{keys[0][0]}:refusal-recorded", get_settings().login_failure_window_seconds + 1) == 1:
            await _audit_failure(form.username, address, "locked")
        raise
    try:
        staff = await service.authenticate(session, form.username, form.password)
    except NotAuthenticated:
        await _count_failure(keys)
        # The unit of work rolls back with the 401: the failure is recorded in a transaction of its own.
        await _audit_failure(form.username, address, "wrong_credentials")
        raise
    await audit.record(
        session,
        f"staff:{staff.id}",
        "login.succeeded",
        "staff",
        staff.id,
        actor_name=staff.username,
        client_ip=address,
    )
    token, expires_in = service.issue_token(staff)
    # RFC 6749 §5.1: token answers must not be cached.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return TokenOut(access_token=token, expires_in=expires_in)


@router.get("/me", response_model=MeOut, responses=problem_responses(401))
async def me(principal: CurrentPrincipal) -> MeOut:
    """The calling staff member or integration, with role, scope and rights."""
    return MeOut(
        kind=principal.kind,
        id=principal.id,
        name=principal.name,
        role=principal.role,
        scope_code=principal.scope_code,
        rights=sorted(principal.rights),
        channels=sorted(principal.channels),
    )
