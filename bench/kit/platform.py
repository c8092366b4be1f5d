"""The platform a benchmark runs on: PostgreSQL and Redis, the app's set-up, its processes.

* `bench_services`: PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 when they answer,
  else embedded ones (`cli.embedded`); a fresh database, a flushed Redis db.
* `set_up`: the apps' environment (also exported to this process), `alembic upgrade head` and the
  demo city (`migrate`, `load_demo`); its integration API key.
* `Server`: one child process (uvicorn, by `uvicorn_args`), its output in a log file, stopped by its
  own pid; `Worker`: the routing worker as such a child; `stop_all`, `stop_on_sigterm`.

Importing this module has no side effects. Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
PYTHON = sys.executable
HOST = "127.0.0.1"
PG_PORT = 5432
REDIS_PORT = 6379
EXPORTED = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "LOG_LEVEL")


def log(message: str) -> None:
    print(message, flush=True)


def tcp_answers(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def machine() -> str:
    """`N CPUs, load average L`: what else may be slowing the run down."""
    return f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"


def ensure_root_on_path() -> None:
    """The repository on sys.path, for the app's own modules (`cli`, `services`, `shared`)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


# ---- PostgreSQL and Redis --------------------------------------------------------------------


@dataclass
class Services:
    database_url: str  # SQLAlchemy form (postgresql+asyncpg://...)
    dsn: str  # plain asyncpg / libpq form
    redis_url: str
    embedded: bool
    describe: str


async def recreate_database(admin_dsn: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_dsn, timeout=10)
    try:
        ident = '"' + name.replace('"', '""') + '"'
        await conn.execute(f"DROP DATABASE IF EXISTS {ident} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {ident}")
    finally:
        await conn.close()


def _flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        client.flushdb()
    finally:
        client.close()


def _embedded(stack: contextlib.ExitStack, what: str, port: int, start: Callable[[Any, Path], Any]) -> Any:
    """An embedded server (`start(cli.embedded, folder)`) in a temporary folder, stopped with `stack`."""
    ensure_root_on_path()
    from cli import embedded

    short = "pg" if what == "PostgreSQL" else "redis"
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"mq-bench-{short}-")))
    log(f"127.0.0.1:{port} does not answer: starting an embedded {what} in {tmp}")
    return stack.enter_context(start(embedded, tmp))


@contextlib.contextmanager
def bench_services(database: str, redis_db: int) -> Iterator[Services]:
    """A freshly (re)created `database` and a flushed Redis `redis_db`, on 127.0.0.1 or embedded."""
    pg_up = tcp_answers(HOST, PG_PORT)
    redis_up = tcp_answers(HOST, REDIS_PORT)
    stack = contextlib.ExitStack()
    with stack:
        if pg_up:
            admin_dsn = f"postgresql://postgres@{HOST}:{PG_PORT}/postgres"
            dsn = f"postgresql://postgres@{HOST}:{PG_PORT}/{database}"
            url = f"postgresql+asyncpg://postgres@{HOST}:{PG_PORT}/{database}"
            pg_desc = f"PostgreSQL {HOST}:{PG_PORT}"
        else:
            postgres = _embedded(stack, "PostgreSQL", PG_PORT, lambda e, d: e.EmbeddedPostgres.start(d, durable=False))
            admin_dsn, dsn, url = postgres.dsn("postgres"), postgres.dsn(database), postgres.url(database)
            pg_desc = "embedded PostgreSQL"
        asyncio.run(recreate_database(admin_dsn, database))
        if redis_up:
            redis_url = f"redis://{HOST}:{REDIS_PORT}/{redis_db}"
            redis_desc = f"Redis {HOST}:{REDIS_PORT}/{redis_db}"
        else:
            server = _embedded(stack, "Redis", REDIS_PORT, lambda e, d: e.EmbeddedRedis.start(d, persist=False))
            redis_url = f"redis://{server.host}:{server.port}/{redis_db}"
            redis_desc = "embedded Redis"
        _flush_redis(redis_url)
        yield Services(url, dsn, redis_url, not (pg_up and redis_up), f"{pg_desc} db {database}, {redis_desc}")
        with contextlib.suppress(Exception):
            _flush_redis(redis_url)


@contextlib.contextmanager
def bench_run(name: str, database: str, redis_db: int) -> Iterator[tuple[Services, Path]]:
    """What a benchmark runs in: SIGTERM/SIGHUP as SystemExit (`stop_on_sigterm`), a temporary
    folder `mq-bench-<name>-*` (logs, credentials) and `bench_services(database, redis_db)`."""
    with (
        stop_on_sigterm(),
        tempfile.TemporaryDirectory(prefix=f"mq-bench-{name}-") as tmp,
        bench_services(database, redis_db) as services,
    ):
        yield services, Path(tmp)


# ---- the app's set-up ------------------------------------------------------------------------


def app_env(services: Services, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=services.database_url,
        REDIS_URL=services.redis_url,
        SECRET_KEY="minqing-bench-secret-" + "x" * 32,
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def migrate(env: dict[str, str]) -> None:
    result = subprocess.run(
        [PYTHON, "-m", "alembic", "upgrade", "head"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    if result.returncode != 0:
        raise RuntimeError(f"alembic upgrade head failed:\n{result.stdout}\n{result.stderr}")


def load_demo(env: dict[str, str], credentials_file: Path) -> str:
    """Load the demo city; returns the integration API key it prints."""
    result = subprocess.run(
        [PYTHON, "-m", "cli", "load-demo", "--credentials-file", str(credentials_file)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise RuntimeError(f"load-demo failed:\n{result.stdout}\n{result.stderr}")
    match = re.search(r"^API key: (\S+)", result.stdout, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"load-demo printed no API key:\n{result.stdout}")
    return match.group(1)


def set_up(services: Services, tmp: Path, note: str = "", **extra: str) -> tuple[dict[str, str], str]:
    """Says where it runs (`services: ...; <machine>` and `note`); the apps' environment (`app_env`;
    DATABASE_URL, REDIS_URL, SECRET_KEY and LOG_LEVEL also put into this process's, for the app
    modules a benchmark imports), migrated, with the demo city (credentials in
    `tmp/demo-credentials.txt`): (env, the integration API key)."""
    log(f"services: {services.describe}; {machine()}{note}")
    env = app_env(services, **extra)
    os.environ.update({k: env[k] for k in EXPORTED})
    ensure_root_on_path()
    migrate(env)
    return env, load_demo(env, tmp / "demo-credentials.txt")


# ---- server processes ------------------------------------------------------------------------


def uvicorn_speedups() -> list[str]:
    """`--loop uvloop --http httptools` when those are installed."""
    args: list[str] = []
    if has_module("uvloop"):
        args += ["--loop", "uvloop"]
    if has_module("httptools"):
        args += ["--http", "httptools"]
    return args


def uvicorn_args(app: str, port: int) -> list[str]:
    quiet = ["--log-level", "warning", "--no-access-log"]
    return [PYTHON, "-m", "uvicorn", app, "--host", HOST, "--port", str(port), *quiet, *uvicorn_speedups()]


def _death_signal_preexec() -> Callable[[], None] | None:
    """Ask the kernel to SIGTERM the child if this process dies (Linux), so no server outlives us."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def arm() -> None:
        prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGTERM)

    return arm


class Server:
    """One server process (uvicorn), its output in a log file, stopped by its own pid."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], port: int, log_dir: Path) -> None:
        self.name = name
        self.port = port
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_death_signal_preexec(),
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_ready(self, path: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        url = f"http://{HOST}:{self.port}{path}"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.tail()}")
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status < 500:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f} s:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        self._log.flush()
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def kill9(self) -> None:
        """SIGKILL this process (its own pid only) and reap it."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)

    def stop(self, timeout: float = 15.0) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        self._log.close()


WORKER_ARGS = [PYTHON, "-m", "arq", "routing_worker.worker.WorkerSettings"]


class Worker(Server):
    """`python -m arq routing_worker.worker.WorkerSettings`, its output in `<name>.log`."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        super().__init__(name, WORKER_ARGS, env, 0, log_dir)
        self.started = time.time()


def stop_all(servers: Iterable[Server]) -> None:
    """Stop every server, the last started first, whatever one of them does."""
    for server in reversed(list(servers)):
        with contextlib.suppress(Exception):
            server.stop()


@contextlib.contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM/SIGHUP into SystemExit so `finally` blocks stop every child process."""

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
