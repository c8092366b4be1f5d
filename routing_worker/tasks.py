"""The `@task` registry: every job the routing worker runs, by name."""

from collections.abc import Awaitable, Callable
from typing import Any

Task = Callable[..., Awaitable[Any]]
TASKS: dict[str, Task] = {}


def task(function: Task) -> Task:
    """Register a job function under its own name (the name callers enqueue)."""
    TASKS[function.__name__] = function
    return function


@task
async def ping(ctx: dict[str, Any]) -> str:
    """A no-op job: proves the worker consumes its queue."""
    return "pong"
