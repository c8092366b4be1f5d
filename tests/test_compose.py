"""docker-compose.yml and the Dockerfile run exactly what `make run` runs (cli/processes.py).

No Docker engine is needed: the files are parsed and compared with the launcher's definitions.
"""

import io
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from cli.processes import (
    HEALTH_PATH,
    SERVICE_ENV_VARS,
    WORKER_METRICS,
    WORKERS,
    http_ports,
    migrate_command,
    process_commands,
)
from cli.run import Launcher
from shared.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
PYTHON = "python"
APP_PROCESSES = set(process_commands(PYTHON, "0.0.0.0", {}))
BUILT_SERVICES = {*APP_PROCESSES, "migrate"}
PRODUCTION_SECRETS = ("SECRET_KEY", "PII_KEYS", "PII_HASH_KEY")


@pytest.fixture(scope="session")
def migrated_database() -> None:
    """Not needed: nothing here touches a database."""


@pytest.fixture
def clean_state() -> None:
    """Not needed: nothing here touches a database."""


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    result: dict[str, dict[str, Any]] = compose["services"]
    return result


def _without_python_prefix(command: list[str]) -> list[str]:
    assert command[:2] == [PYTHON, "-m"], command
    return command[2:]


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):  # the `- NAME=value` form
        env = dict(item.split("=", 1) for item in env)
    return {str(key): str(value) for key, value in env.items()}


def test_compose_runs_exactly_the_launcher_processes_plus_migrations(services: dict[str, dict[str, Any]]) -> None:
    launcher_processes = set(process_commands(PYTHON, "127.0.0.1", {}))
    assert launcher_processes == {"intake_api", "scoring_service", "routing_worker", "long_worker"}
    assert set(services) == launcher_processes | {"migrate", "postgres", "redis"}


@pytest.mark.parametrize("name", sorted(APP_PROCESSES))
def test_app_command_is_the_launcher_command_on_all_interfaces(services: dict[str, dict[str, Any]], name: str) -> None:
    expected = _without_python_prefix(process_commands(PYTHON, "0.0.0.0", {})[name])
    assert services[name]["command"] == expected


def test_migrate_command_is_the_launcher_migration_step(services: dict[str, dict[str, Any]]) -> None:
    assert services["migrate"]["command"] == _without_python_prefix(migrate_command(PYTHON))
    assert services["migrate"].get("restart") == "no", "migrations run once"


def test_http_apps_publish_and_health_check_their_default_ports(services: dict[str, dict[str, Any]]) -> None:
    for name, port in http_ports({}).items():
        service = services[name]
        assert f"{port}:{port}" in service["ports"]
        probe = " ".join(service["healthcheck"]["test"])
        assert f"http://127.0.0.1:{port}{HEALTH_PATH}" in probe


@pytest.mark.parametrize("name", sorted(WORKERS))
def test_worker_health_check_targets_the_launcher_worker_settings(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    worker_settings = _without_python_prefix(process_commands(PYTHON, "0.0.0.0", {})[name])[-1]
    assert worker_settings == WORKERS[name]
    assert services[name]["healthcheck"]["test"] == ["CMD", "arq", "--check", worker_settings]


@pytest.mark.parametrize("name", sorted(WORKER_METRICS))
def test_each_worker_serves_its_metrics_on_the_compose_network(services: dict[str, dict[str, Any]], name: str) -> None:
    variable, port = WORKER_METRICS[name]
    env = _environment(services[name])
    assert (env[variable], env["WORKER_METRICS_HOST"]) == (str(port), "0.0.0.0")
    # Exposed to the network, not published on the host: `--scale routing_worker=N` needs no port juggling.
    assert services[name]["expose"] == [str(port)] and "ports" not in services[name]


def test_app_services_share_one_image_built_from_the_dockerfile(services: dict[str, dict[str, Any]]) -> None:
    builds = {name: services[name]["build"] for name in BUILT_SERVICES}
    images = {services[name]["image"] for name in BUILT_SERVICES}
    assert len(images) == 1, images
    for name, build in builds.items():
        context = build if isinstance(build, str) else build["context"]
        dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        assert (ROOT / context).resolve() == ROOT, name
        assert (ROOT / context / dockerfile).is_file(), name


def test_backing_services_use_stock_images_with_health_checks(services: dict[str, dict[str, Any]]) -> None:
    postgres, redis = services["postgres"], services["redis"]
    assert postgres["image"] == "postgres:15" and "build" not in postgres
    assert redis["image"] == "redis:7" and "build" not in redis
    assert postgres["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert "--appendonly" in redis["command"]
    assert redis["command"][redis["command"].index("--appendonly") + 1] == "yes"
    assert _environment(postgres)["POSTGRES_DB"] == "minqing"


def test_apps_start_after_healthy_servers_and_finished_migrations(services: dict[str, dict[str, Any]]) -> None:
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in APP_PROCESSES:
        assert services[name]["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }, name


def test_compose_sets_the_env_vars_the_launcher_sets(services: dict[str, dict[str, Any]]) -> None:
    # The launcher passes DATABASE_URL / REDIS_URL down (here taken as given, so no server starts).
    given = {"DATABASE_URL": "postgresql+asyncpg://u@h/minqing", "REDIS_URL": "redis://h:1/0", "OTHER": "x"}
    launcher_env = Launcher(environ=given, out=io.StringIO())._backing_services_env()
    assert launcher_env is not None
    assert {name: launcher_env[name] for name in SERVICE_ENV_VARS} == {name: given[name] for name in SERVICE_ENV_VARS}

    for name in BUILT_SERVICES:
        env = _environment(services[name])
        # The intake API also serves the console, whose scoring proxy needs the scoring service's address
        # (`make run` sets it to the launched scoring service; compose to its service name).
        console = {"CONSOLE_SCORING_URL"} if name == "intake_api" else set()
        # Each worker serves its metrics (docs/operations.md, "Metrics").
        metrics = {WORKER_METRICS[name][0], "WORKER_METRICS_HOST"} if name in WORKER_METRICS else set()
        assert set(env) == {*SERVICE_ENV_VARS, "ENV", *PRODUCTION_SECRETS, *console, *metrics}, name
        assert env["DATABASE_URL"] == "postgresql+asyncpg://postgres:postgres@postgres:5432/minqing"
        assert env["REDIS_URL"] == "redis://redis:6379/0"
    assert _environment(services["intake_api"])["CONSOLE_SCORING_URL"] == "http://scoring_service:8001"


def test_compose_runs_in_production_and_requires_its_own_keys(services: dict[str, dict[str, Any]]) -> None:
    # What check_production refuses to take from the development defaults (shared/settings.py).
    defaults = Settings.model_fields
    assert {name.lower() for name in PRODUCTION_SECRETS} <= set(defaults)
    for name in BUILT_SERVICES:
        env = _environment(services[name])
        assert env["ENV"] == "production", name
        for variable in PRODUCTION_SECRETS:
            # `${VAR:?message}`: compose refuses to start when VAR is unset or empty; no default.
            assert re.fullmatch(rf"\$\{{{variable}:\?[^}}]+\}}", env[variable]), (name, env[variable])


def test_production_compose_loads_no_demo_data_and_says_how_to_create_the_first_admin(
    services: dict[str, dict[str, Any]],
) -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for name, service in services.items():
        assert "load-demo" not in " ".join(service.get("command") or []), name
    assert "python -m cli create-admin" in text


def test_dockerfile_installs_the_project_from_a_slim_python_as_a_non_root_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    instructions = [line.strip() for line in dockerfile.splitlines() if line.strip() and not line.startswith("#")]
    # Every stage starts from the slim Python (the first one installs the console's npm packages); the
    # image is the last stage's.
    stages = [line for line in instructions if line.startswith("FROM ")]
    assert instructions[0].startswith("FROM ") and stages[-1] == "FROM python:3.11-slim"
    assert all(re.fullmatch(r"FROM python:3\.11-slim( AS [a-z-]+)?", stage) for stage in stages), stages
    assert re.search(r"pip install (--no-deps )?\.(\s|$)", dockerfile)
    users = [line.split()[1] for line in instructions if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")


def test_dockerfile_copies_every_package_the_project_installs() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = {match.group(1).rstrip("/") for match in re.finditer(r"^COPY\s+(\S+)\s+\S+\s*$", dockerfile, re.MULTILINE)}
    for source in copied:
        assert (ROOT / source).exists(), f"Dockerfile copies {source}, which is not in the repository"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    includes = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {pattern.rstrip("*") for pattern in includes}
    assert packages <= copied, packages - copied
    assert {"alembic.ini", "migrations"} <= copied, "the migrate service needs alembic.ini and migrations/"
