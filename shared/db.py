"""Async engine and the unit of work: one session per request or job, committed in one place."""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from shared.settings import get_settings

AfterCommit = Callable[[], Awaitable[None]]


def _create_engine(url: str) -> AsyncEngine:
    settings = get_settings()
    # Every connection is kept: an overflow connection is closed when returned to a full pool, and
    # opening one (TCP, an SSL attempt, SQLAlchemy's codec setup) costs more CPU than an intake request.
    return create_async_engine(
        url,
        pool_size=settings.db_pool_size + settings.db_max_overflow,
        max_overflow=0,
        pool_pre_ping=settings.db_pool_pre_ping,
        pool_recycle=1800,
    )


@lru_cache
def get_engine() -> AsyncEngine:
    return _create_engine(get_settings().database_url)


@lru_cache
def get_read_engine() -> AsyncEngine:
    """The engine for long read-only work (score runs): `SCORING_DATABASE_URL`'s replica, else the primary."""
    url = get_settings().scoring_database_url
    return _create_engine(url) if url else get_engine()


@lru_cache
def get_sessionmaker() -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(get_engine(), expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def unit_of_work() -> AsyncIterator[AsyncSession]:
    """Open a session, commit when the block succeeds, roll back when it raises.

    After-commit callbacks registered with `after_commit` (e.g. job enqueues) run once the
    commit has succeeded, so no job ever points at data that was rolled back.
    """
    async with get_sessionmaker()() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
        await run_after_commit(session)


async def driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under the session, for a hot path that skips SQLAlchemy's statement machinery.

    It is the session's own connection: inside the session's transaction when one has begun. Until
    SQLAlchemy runs a statement none has (BEGIN is sent lazily), and each statement then commits on its own.
    """
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    session.info.setdefault("after_commit", []).append(callback)


async def run_after_commit(session: AsyncSession) -> None:
    callbacks: list[AfterCommit] = session.info.pop("after_commit", [])
    for callback in callbacks:
        await callback()


async def discard_pooled_connections() -> None:
    """Close the idle pooled connections (those checked out are dropped when returned); new ones open on demand."""
    if get_engine.cache_info().currsize:
        await get_engine().dispose()


async def dispose_engine() -> None:
    if get_read_engine.cache_info().currsize:
        if get_settings().scoring_database_url:
            await get_read_engine().dispose()
        get_read_engine.cache_clear()
    if get_engine.cache_info().currsize:
        await get_engine().dispose()
        get_engine.cache_clear()
        get_sessionmaker.cache_clear()
