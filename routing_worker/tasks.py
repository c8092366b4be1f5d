"""The `@task` and `@cron_task` registries: every job the routing worker runs, by name."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

Task = Callable[..., Awaitable[Any]]
TASKS: dict[str, Task] = {}


@dataclass(frozen=True, slots=True)
class CronSpec:
    function: Task
    second: set[int] | None
    minute: set[int] | None
    run_at_startup: bool


CRONS: list[CronSpec] = []


def task(function: Task) -> Task:
    """Register a job function under its own name (the name callers enqueue)."""
    TASKS[function.__name__] = function
    return function


def cron_task(
    *, second: set[int] | None = None, minute: set[int] | None = None, run_at_startup: bool = False
) -> Callable[[Task], Task]:
    """Register a periodic job (a sweep); it must be safe to run on several workers at once."""

    def register(function: Task) -> Task:
        CRONS.append(CronSpec(function, second, minute, run_at_startup))
        return function

    return register


@task
async def ping(ctx: dict[str, Any]) -> str:
    """A no-op job: proves the worker consumes its queue."""
    return "pong"
