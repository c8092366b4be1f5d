"""Password hashing (argon2, a quarter of a second of CPU by design) runs off the event loop."""

import threading

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity import service
from shared.auth import verify_password
from shared.errors import NotAuthenticated
from tests.factories import PASSWORD, make_small_city, make_staff


async def test_login_verifies_the_password_outside_the_event_loop_thread(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    units = await make_small_city(session)
    await make_staff(session, "clerk_a", "clerk", units["3302"])
    threads: list[threading.Thread] = []

    def recording_verify(password_hash: str | None, password: str) -> bool:
        threads.append(threading.current_thread())
        return verify_password(password_hash, password)

    monkeypatch.setattr(service, "verify_password", recording_verify)
    staff = await service.authenticate(session, "clerk_a", PASSWORD)
    assert staff.username == "clerk_a"
    with pytest.raises(NotAuthenticated):
        await service.authenticate(session, "clerk_a", PASSWORD + "x")
    with pytest.raises(NotAuthenticated):  # unknown accounts cost the same verification
        await service.authenticate(session, "nobody", PASSWORD)
    assert len(threads) == 3
    assert all(t is not threading.main_thread() for t in threads)
