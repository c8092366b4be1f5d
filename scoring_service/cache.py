"""A small in-process TTL cache for the public disclosure endpoints (read by anyone, often)."""

import time
from collections import OrderedDict
from typing import Any

PUBLIC_TTL_SECONDS = 60
MAX_ENTRIES = 512


class TtlCache:
    """Keys expire after `ttl` seconds; the oldest entries go first when the cache is full."""

    def __init__(self, ttl: float, max_entries: int) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[Any, ...], tuple[float, Any]] = OrderedDict()

    def get(self, key: tuple[Any, ...]) -> Any | None:
        found = self._entries.get(key)
        if found is None:
            return None
        expires, value = found
        if expires < time.monotonic():
            del self._entries[key]
            return None
        return value

    def put(self, key: tuple[Any, ...], value: Any) -> None:
        self._entries[key] = (time.monotonic() + self.ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()


public_cache = TtlCache(PUBLIC_TTL_SECONDS, MAX_ENTRIES)
