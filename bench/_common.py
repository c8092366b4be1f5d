"""Helpers shared by the benchmarks in `bench/` (not a benchmark itself).

Importing this module has no side effects. Run directly (as `make bench` does with every
`bench/*.py`), it prints one `key=value` line saying it is a helper and exits 0.

* `bench_services`: PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 when they answer,
  else embedded ones (`cli.embedded`); a fresh database, a flushed Redis db.
* `migrate`, `load_demo`: the app's own `alembic upgrade head` and `python -m cli load-demo`.
* `Server`: one uvicorn process on a free 127.0.0.1 port, stopped by its pid.
* `closed_loop`, `open_loop`: a small HTTP/1.1 keep-alive load generator on raw asyncio streams
  (cheaper per request than a general-purpose client, which matters on a 2-core machine).
* `run_wrk`: wrk with a Lua script, its figures read back as JSON.

Only 127.0.0.1 is ever contacted; every loop is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
PYTHON = sys.executable
HOST = "127.0.0.1"
PG_PORT = 5432
REDIS_PORT = 6379


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


def fmt(value: float, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    return f"{value:.{digits}f}"


# ---- PostgreSQL and Redis --------------------------------------------------------------------


@dataclass
class Services:
    database_url: str  # SQLAlchemy form (postgresql+asyncpg://...)
    dsn: str  # plain asyncpg / libpq form
    redis_url: str
    embedded: bool
    describe: str


def _ensure_root_on_path() -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


async def _recreate_database(admin_dsn: str, name: str) -> None:
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
            _ensure_root_on_path()
            from cli.embedded import EmbeddedPostgres

            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mq-bench-pg-")))
            log(f"127.0.0.1:{PG_PORT} does not answer: starting an embedded PostgreSQL in {tmp}")
            postgres = stack.enter_context(EmbeddedPostgres.start(tmp, durable=False))
            admin_dsn, dsn, url = postgres.dsn("postgres"), postgres.dsn(database), postgres.url(database)
            pg_desc = "embedded PostgreSQL"
        asyncio.run(_recreate_database(admin_dsn, database))
        if redis_up:
            redis_url = f"redis://{HOST}:{REDIS_PORT}/{redis_db}"
            redis_desc = f"Redis {HOST}:{REDIS_PORT}/{redis_db}"
        else:
            _ensure_root_on_path()
            from cli.embedded import EmbeddedRedis

            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mq-bench-redis-")))
            log(f"127.0.0.1:{REDIS_PORT} does not answer: starting an embedded Redis in {tmp}")
            server = stack.enter_context(EmbeddedRedis.start(tmp, persist=False))
            redis_url = f"redis://{server.host}:{server.port}/{redis_db}"
            redis_desc = "embedded Redis"
        _flush_redis(redis_url)
        yield Services(url, dsn, redis_url, not (pg_up and redis_up), f"{pg_desc} db {database}, {redis_desc}")
        with contextlib.suppress(Exception):
            _flush_redis(redis_url)


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


# ---- server processes ------------------------------------------------------------------------


def uvicorn_speedups() -> list[str]:
    """`--loop uvloop --http httptools` when those are installed."""
    args: list[str] = []
    if has_module("uvloop"):
        args += ["--loop", "uvloop"]
    if has_module("httptools"):
        args += ["--http", "httptools"]
    return args


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


def uvicorn_args(app: str, port: int, *, app_dir: Path | None = None) -> list[str]:
    args = [PYTHON, "-m", "uvicorn", app, "--host", HOST, "--port", str(port)]
    args += ["--log-level", "warning", "--no-access-log", *uvicorn_speedups()]
    if app_dir is not None:
        args += ["--app-dir", str(app_dir)]
    return args


# ---- CPU accounting (Linux /proc; figures are None elsewhere) ---------------------------------


def _proc_cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _machine_cpu() -> tuple[int, int] | None:
    """(busy, total) jiffies over all CPUs."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


class CpuMeter:
    """CPU used by one process per request, and how busy the whole machine was meanwhile.

    The machine figure includes everything else running (other test suites, builds): when it is
    far above what this benchmark alone explains, the figures of the run are pessimistic.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.proc0 = _proc_cpu_seconds(pid)
        self.machine0 = _machine_cpu()
        self.load0 = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
        self.proc_s: float | None = None
        self.machine_busy: float | None = None

    def stop(self) -> None:
        proc1, machine1 = _proc_cpu_seconds(self.pid), _machine_cpu()
        if self.proc0 is not None and proc1 is not None:
            self.proc_s = proc1 - self.proc0
        if self.machine0 is not None and machine1 is not None and machine1[1] > self.machine0[1]:
            self.machine_busy = (machine1[0] - self.machine0[0]) / (machine1[1] - self.machine0[1])

    def describe(self, requests: int) -> str:
        parts = []
        if self.proc_s is not None and requests:
            parts.append(f"server CPU {1000 * self.proc_s / requests:.2f} ms/request")
        if self.machine_busy is not None:
            parts.append(f"machine CPU busy {100 * self.machine_busy:.0f}% of {os.cpu_count()} cores")
        if not math.isnan(self.load0):
            parts.append(f"load average {self.load0:.1f} -> {os.getloadavg()[0]:.1f}")
        return "; ".join(parts)


# ---- results ---------------------------------------------------------------------------------


@dataclass
class LoadResult:
    label: str
    duration: float  # seconds of load (for open loop: the schedule's length)
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)  # transport errors, timeouts
    p50_ms: float = math.nan
    p90_ms: float = math.nan
    p99_ms: float = math.nan
    max_ms: float = math.nan
    scheduled: int = 0  # open loop only
    span: float = math.nan  # open loop only: from the first scheduled send to the last answer
    unfinished: int = 0  # open loop only: still waiting when the drain time ran out
    tool: str = "python"
    bad_samples: list[str] = field(default_factory=list)

    @property
    def completed(self) -> int:
        return sum(self.statuses.values())

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)

    @property
    def non_2xx(self) -> int:
        return self.completed - self.ok

    @property
    def achieved_rps(self) -> float:
        """Open loop: answers per second from the first scheduled send to the last answer."""
        return self.completed / self.span if self.span > 0 else math.nan

    @property
    def rps(self) -> float:
        return self.completed / self.duration if self.duration > 0 else math.nan

    def compute_percentiles(self) -> None:
        if not self.latencies_ms:
            return
        ordered = sorted(self.latencies_ms)
        self.p50_ms = percentile(ordered, 50)
        self.p90_ms = percentile(ordered, 90)
        self.p99_ms = percentile(ordered, 99)
        self.max_ms = ordered[-1]

    def summary(self) -> str:
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items())) or "none"
        line = (
            f"{self.label}: {self.completed} answers in {self.duration:.1f} s = {self.rps:.0f} req/s; "
            f"p50 {fmt(self.p50_ms, 2)} ms, p90 {fmt(self.p90_ms, 2)} ms, p99 {fmt(self.p99_ms, 2)} ms, "
            f"max {fmt(self.max_ms, 1)} ms [{self.tool}]\n    statuses {{{statuses}}}; non-2xx {self.non_2xx}"
        )
        if self.errors:
            line += "; transport errors " + ", ".join(f"{k}: {n}" for k, n in sorted(self.errors.items()))
        if self.scheduled:
            line += (
                f"; scheduled {self.scheduled}, unfinished {self.unfinished}; "
                f"answered at {self.achieved_rps:.0f} req/s (over {self.span:.1f} s to the last answer)"
            )
        for sample in self.bad_samples[:3]:
            line += f"\n    non-2xx sample: {sample}"
        return line


def percentile(ordered: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


# ---- a small HTTP/1.1 keep-alive client --------------------------------------------------------

BodyFactory = Callable[[int], bytes]


def build_request(path: str, headers: dict[str, str], body: bytes) -> bytes:
    head = [f"POST {path} HTTP/1.1", f"Host: {HOST}", "Content-Type: application/json"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


class _Conn:
    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(HOST, self.port)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def exchange(self, raw: bytes) -> tuple[int, bytes]:
        """Send one request, read one response: (status, body)."""
        if self.writer is None:
            await self._open()
        assert self.reader is not None and self.writer is not None
        self.writer.write(raw)
        status_line = await self.reader.readline()
        if not status_line:
            self.close()
            raise ConnectionError("connection closed by the server")
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        chunked = close = False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value.strip())
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                close = True
        if chunked:
            parts = []
            while True:
                size = int((await self.reader.readline()).split(b";")[0].strip(), 16)
                if size == 0:
                    await self.reader.readline()
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readline()
            body = b"".join(parts)
        else:
            body = await self.reader.readexactly(length) if length else b""
        if close:
            self.close()
        return status, body


def _note(result: LoadResult, status: int, body: bytes) -> None:
    result.statuses[status] += 1
    if not 200 <= status < 300 and len(result.bad_samples) < 5:
        result.bad_samples.append(f"{status} {body[:300].decode(errors='replace')}")


async def _closed_loop(
    port: int, path: str, headers: dict[str, str], bodies: BodyFactory, connections: int, duration: float, label: str
) -> LoadResult:
    result = LoadResult(label, duration)
    counter = iter(range(10**9))
    started = time.perf_counter()
    deadline = started + duration

    async def worker() -> None:
        conn = _Conn(port)
        while time.perf_counter() < deadline:
            raw = build_request(path, headers, bodies(next(counter)))
            t0 = time.perf_counter()
            try:
                status, body = await asyncio.wait_for(conn.exchange(raw), 30)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
                result.errors[type(exc).__name__] += 1
                conn.close()
                await asyncio.sleep(0.01)
                continue
            result.latencies_ms.append((time.perf_counter() - t0) * 1000)
            _note(result, status, body)
        conn.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    result.duration = time.perf_counter() - started
    result.compute_percentiles()
    return result


async def _open_loop(
    port: int,
    path: str,
    headers: dict[str, str],
    bodies: BodyFactory,
    rate: float,
    duration: float,
    connections: int,
    drain: float,
    label: str,
    first_index: int,
) -> LoadResult:
    """Send at fixed intervals whatever happens; latency counts from the scheduled send time
    (so a slow server cannot hide its queueing by slowing the generator: no coordinated omission)."""
    result = LoadResult(label, duration)
    total = int(rate * duration)
    result.scheduled = total
    pool: asyncio.Queue[_Conn] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(_Conn(port))
    interval = 1.0 / rate
    outstanding: set[asyncio.Task[None]] = set()
    last_answer = [0.0]
    scheduled_at: dict[asyncio.Task[None], float] = {}

    async def one(index: int, scheduled: float) -> None:
        raw = build_request(path, headers, bodies(first_index + index))
        conn = await pool.get()
        try:
            status, body = await conn.exchange(raw)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            result.errors[type(exc).__name__] += 1
            conn.close()
            return
        except asyncio.CancelledError:
            conn.close()
            raise
        finally:
            pool.put_nowait(conn)
        answered = time.perf_counter()
        last_answer[0] = max(last_answer[0], answered)
        result.latencies_ms.append((answered - scheduled) * 1000)
        _note(result, status, body)

    start = time.perf_counter() + 0.05
    for index in range(total):
        scheduled = start + index * interval
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(index, scheduled))
        outstanding.add(task)
        scheduled_at[task] = scheduled
        task.add_done_callback(outstanding.discard)
    end_of_schedule = time.perf_counter()
    if outstanding:
        _, pending = await asyncio.wait(set(outstanding), timeout=drain)
        if pending:
            now = time.perf_counter()
            result.unfinished = len(pending)
            result.errors["unfinished"] += len(pending)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            # An unanswered request counts in the percentiles with at least its waiting time so far.
            result.latencies_ms += [(now - scheduled_at[task]) * 1000 for task in pending]
    result.duration = end_of_schedule - start
    result.span = max(last_answer[0], start) - start
    result.compute_percentiles()
    while not pool.empty():
        pool.get_nowait().close()
    return result


def _run(coro: Any) -> Any:
    if has_module("uvloop"):
        import uvloop

        return uvloop.run(coro)
    return asyncio.run(coro)


def closed_loop(
    port: int, path: str, headers: dict[str, str], bodies: BodyFactory, *, connections: int, duration: float, label: str
) -> LoadResult:
    return _run(_closed_loop(port, path, headers, bodies, connections, duration, label))  # type: ignore[no-any-return]


def open_loop(
    port: int,
    path: str,
    headers: dict[str, str],
    bodies: BodyFactory,
    *,
    rate: float,
    duration: float,
    connections: int = 64,
    drain: float = 10.0,
    label: str,
    first_index: int = 0,
) -> LoadResult:
    return _run(  # type: ignore[no-any-return]
        _open_loop(port, path, headers, bodies, rate, duration, connections, drain, label, first_index)
    )


# ---- wrk ---------------------------------------------------------------------------------------


def wrk_path() -> str | None:
    return shutil.which("wrk")


WRK_RESULT_MARK = "WRK_RESULT "


def run_wrk(
    url: str, script: Path, *, connections: int, duration: float, threads: int, label: str, args: list[str]
) -> LoadResult:
    """Closed-loop load with wrk; the Lua script's done() prints `WRK_RESULT {json}`."""
    wrk = wrk_path()
    assert wrk is not None
    cmd = [wrk, "-t", str(threads), "-c", str(connections), "-d", f"{duration:g}s", "--timeout", "30s"]
    cmd += ["-s", str(script), url, "--", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith(WRK_RESULT_MARK)), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{proc.stdout}\n{proc.stderr}")
    data = json.loads(line[len(WRK_RESULT_MARK) :])
    result = LoadResult(label, data["duration_us"] / 1e6, tool="wrk")
    result.statuses = Counter({int(k): int(v) for k, v in data["statuses"].items()})
    for kind in ("connect", "read", "write", "timeout"):
        if data["errors"][kind]:
            result.errors[kind] = int(data["errors"][kind])
    result.p50_ms = data["p50_us"] / 1000
    result.p90_ms = data["p90_us"] / 1000
    result.p99_ms = data["p99_us"] / 1000
    result.max_ms = data["max_us"] / 1000
    result.bad_samples = list(data.get("bad_samples", []))
    # wrk counts requests whose answer it read; our per-status counts come from response().
    if sum(result.statuses.values()) != data["requests"]:
        result.errors["uncounted"] = data["requests"] - sum(result.statuses.values())
    return result


# A Lua script for wrk: the request body is built per request by `body(n)`, supplied by the
# benchmark (Lua source text), so every request differs. Statuses are counted per thread and
# summed in done(); a few non-2xx bodies are kept as samples.
WRK_LUA_FRAME = r"""
local threads = {}
local counter = 0
statuses = {}
bad_samples = {}
local path, api_key, base

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  path = args[1]
  api_key = args[2]
  base = tonumber(args[3])
  math.randomseed(base + tid * 7919)
end

%(body_function)s

function request()
  counter = counter + 1
  local n = base + tid * 1000000 + counter
  local headers = {["Content-Type"] = "application/json"}
  if api_key ~= "-" then headers["X-API-Key"] = api_key end
  return wrk.format("POST", path, headers, body(n))
end

function response(status, headers, resp_body)
  statuses[status] = (statuses[status] or 0) + 1
  if (status < 200 or status > 299) and #bad_samples < 3 then
    table.insert(bad_samples, status .. " " .. string.sub(resp_body or "", 1, 300))
  end
end

local function esc(s)
  return (string.gsub(s, '[%%c"\\]', function(c) return string.format("\\u%%04x", string.byte(c)) end))
end

function done(summary, latency, requests)
  local total = {}
  local samples = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for k, v in pairs(s) do total[k] = (total[k] or 0) + v end
    local b = t:get("bad_samples")
    for _, v in ipairs(b) do if #samples < 5 then table.insert(samples, v) end end
  end
  local parts = {}
  for k, v in pairs(total) do table.insert(parts, string.format('"%%d":%%d', k, v)) end
  local sample_parts = {}
  for _, v in ipairs(samples) do table.insert(sample_parts, '"' .. esc(v) .. '"') end
  io.write(string.format(
    'WRK_RESULT {"requests":%%d,"duration_us":%%d,"p50_us":%%.1f,"p90_us":%%.1f,"p99_us":%%.1f,"max_us":%%.1f,'
    .. '"errors":{"connect":%%d,"read":%%d,"write":%%d,"timeout":%%d,"status":%%d},"statuses":{%%s},"bad_samples":[%%s]}\n',
    summary.requests, summary.duration, latency:percentile(50.0), latency:percentile(90.0),
    latency:percentile(99.0), latency.max, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, summary.errors.status,
    table.concat(parts, ","), table.concat(sample_parts, ",")))
end
"""


def write_wrk_script(directory: Path, body_function: str) -> Path:
    """A wrk script around `body_function`: Lua source defining `function body(n) ... end`."""
    path = directory / "post.lua"
    path.write_text(WRK_LUA_FRAME % {"body_function": body_function})
    return path


if __name__ == "__main__":
    print("helper=bench/_common.py (shared by the benchmarks; nothing to run)")
    sys.exit(0)
