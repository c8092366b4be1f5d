"""Every scoring API test starts with an empty public cache (the database is emptied between tests)."""

from collections.abc import Iterator

import pytest

from scoring_service.cache import public_cache


@pytest.fixture(autouse=True)
def empty_public_cache() -> Iterator[None]:
    public_cache.clear()
    yield
    public_cache.clear()
