"""The one definition of Minqing's long-running processes and their one-shot setup steps.

Used by the `make run` launcher (``cli/run.py``, prefixed with ``python -m``) and mirrored
verbatim by the ``command:`` entries of ``docker-compose.yml`` (host ``0.0.0.0``, no python
prefix) -- ``tests/test_compose.py`` holds the two together.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

INTAKE_API = "intake_api"
SCORING_SERVICE = "scoring_service"
ROUTING_WORKER = "routing_worker"
LONG_WORKER = "long_worker"

# ASGI apps served over HTTP: name -> (import path, env var with the port, default port).
HTTP_APPS: dict[str, tuple[str, str, int]] = {
    INTAKE_API: ("intake_api.app:app", "INTAKE_PORT", 8000),
    SCORING_SERVICE: ("scoring_service.app:app", "SCORING_PORT", 8001),
}
# arq workers: name -> WorkerSettings. The long worker takes score runs and deadline recomputes, which
# run for minutes, off the routing queue.
WORKERS: dict[str, str] = {
    ROUTING_WORKER: "routing_worker.worker.WorkerSettings",
    LONG_WORKER: "routing_worker.worker.LongWorkerSettings",
}
# Each worker kind's Prometheus endpoint (docs/operations.md, "Metrics"): name -> (env var, `make run`'s
# default port). The settings' own default is 0 (none); `make run` turns both on.
WORKER_METRICS: dict[str, tuple[str, int]] = {
    ROUTING_WORKER: ("WORKER_METRICS_PORT", 9101),
    LONG_WORKER: ("LONG_WORKER_METRICS_PORT", 9102),
}

# What every process (and the migration step) needs to find its backing services. The launcher
# sets exactly these; docker-compose.yml gives them to every app container.
SERVICE_ENV_VARS: tuple[str, ...] = ("DATABASE_URL", "REDIS_URL")

HEALTH_PATH = "/healthz"
DOCS_PATH = "/docs"


def http_ports(env: Mapping[str, str] | None = None) -> dict[str, int]:
    """The port of each HTTP app: ``INTAKE_PORT`` / ``SCORING_PORT`` or the defaults."""
    env = os.environ if env is None else env
    ports: dict[str, int] = {}
    for name, (_, variable, default) in HTTP_APPS.items():
        raw = env.get(variable, "").strip()
        if not raw:
            ports[name] = default
            continue
        try:
            port = int(raw)
        except ValueError:
            raise ValueError(f"{variable}={raw!r} is not a port number") from None
        if not 0 < port < 65536:
            raise ValueError(f"{variable}={port} is out of range 1-65535")
        ports[name] = port
    if len(set(ports.values())) != len(ports):
        raise ValueError(f"the HTTP apps need distinct ports, got {ports}")
    return ports


def process_commands(python: str, host: str, env: Mapping[str, str] | None = None) -> dict[str, list[str]]:
    """The long-running commands (two HTTP apps, two arq workers), keyed by process name, as ``python -m ...`` argv lists.

    `env` (default: ``os.environ``) supplies ``INTAKE_PORT`` / ``SCORING_PORT``.
    """
    ports = http_ports(env)
    commands: dict[str, list[str]] = {}
    for name, (app, _, _) in HTTP_APPS.items():
        commands[name] = [python, "-m", "uvicorn", app, "--host", host, "--port", str(ports[name])]
    for name, settings in WORKERS.items():
        commands[name] = [python, "-m", "arq", settings]
    return commands


def migrate_command(python: str) -> list[str]:
    """Bring the schema to the newest revision (run from the repository root)."""
    return [python, "-m", "alembic", "upgrade", "head"]


def load_demo_command(python: str) -> list[str]:
    """Load the demo city unless the database already holds data."""
    return [python, "-m", "cli", "load-demo", "--if-empty"]
