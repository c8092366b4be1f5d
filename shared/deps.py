"""FastAPI dependencies both apps use: the unit of work and the caller's credentials."""

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Credentials, Principal
from shared.db import get_sessionmaker, run_after_commit
from shared.errors import Forbidden, InvalidInput, NotAuthenticated, field_error


async def get_session() -> AsyncIterator[AsyncSession]:
    """One session per request, committed here and only here, before the response is sent."""
    async with get_sessionmaker()() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
        await run_after_commit(session)


# scope="function": the commit happens before the response leaves, so a 2xx means committed.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]

bearer_scheme = OAuth2PasswordBearer(tokenUrl="/v1/auth/token", auto_error=False)
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False)


async def credentials(
    bearer: Annotated[str | None, Depends(bearer_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
) -> Credentials:
    return Credentials(bearer=bearer or None, api_key=api_key or None)


Resolver = Callable[[AsyncSession, Credentials], Awaitable[Principal]]


def principal_dependency(resolve: Resolver) -> Callable[..., Awaitable[Principal]]:
    """Build the app's "who is calling" dependency around the identity service's resolver."""

    async def current_principal(
        request: Request,
        session: SessionDep,
        creds: Annotated[Credentials, Depends(credentials)],
    ) -> Principal:
        if creds.bearer is None and creds.api_key is None:
            raise NotAuthenticated("Send a bearer token or an X-API-Key header")
        principal = await resolve(session, creds)
        request.state.principal = principal
        return principal

    return current_principal


def require_roles(current: Callable[..., Awaitable[Principal]], *roles: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that lets through only staff holding one of `roles`."""

    async def check(principal: Annotated[Principal, Depends(current)]) -> Principal:
        if not principal.is_staff or principal.role not in roles:
            raise Forbidden(f"This needs one of the roles: {', '.join(roles)}")
        return principal

    return check


def if_match_version(if_match: Annotated[str | None, Header(alias="If-Match")] = None) -> int | None:
    """The object version a client sends in If-Match (`3` or `"3"` or `W/"3"`)."""
    if if_match is None:
        return None
    raw = if_match.strip().removeprefix("W/").strip('"')
    if not raw.isdigit() or len(raw) > 9:
        raise InvalidInput(
            "If-Match must carry the object's version", errors=[field_error(["header", "If-Match"], "not a version")]
        )
    return int(raw)


IfMatch = Annotated[int | None, Depends(if_match_version)]
