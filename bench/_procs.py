"""Helpers for `bench/routing.py` and `bench/chaos.py` (not a benchmark itself).

Importing this module has no side effects. Run directly (as `make bench` does with every
`bench/*.py`), it prints one `key=value` line saying it is a helper and exits 0.

* `land_points`: distinct points inside the grid map, at least ~85 m apart (intake links two
  requests of one category within 50 m as duplicates, and the benchmarks want none).
* `request_body`: a `POST /v1/requests` body for point n, with a fixed category mix.
* `open_loop`: an open-loop HTTP/1.1 load generator on raw asyncio streams that keeps, for each
  request, its scheduled send time, its status and the id in the `201` body.
* `AssignmentWatcher`: polls `assignments` and notes when each request's first routing decision
  became visible (commit time, as seen from outside, within one poll interval).
* `Worker`: the routing worker (`python -m arq routing_worker.worker.WorkerSettings`) as a child
  process, killed by its own pid only.
* py-spy helpers: record one process, summarise the hottest functions.

Only 127.0.0.1 is contacted; every loop is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _common as c

WORKER_ARGS = [c.PYTHON, "-m", "arq", "routing_worker.worker.WorkerSettings"]

# ---- where requests come from ------------------------------------------------------------------


def land_points(
    geometries: Sequence[dict[str, Any]], count: int, seed: int, spacing_deg: float = 0.0008
) -> list[tuple[float, float]]:
    """`count` distinct (lon, lat) points inside the grids, shuffled: a lattice `spacing_deg` apart
    (about 89 m north-south, the same distance east-west), each point moved by at most 1/8 of the
    spacing each way, so no two points are closer than about 66 m."""
    import numpy as np
    import shapely

    shapes = [shapely.geometry.shape(g) for g in geometries]
    tree = shapely.STRtree(shapes)
    bounds = np.array([s.bounds for s in shapes])
    min_lon, min_lat = bounds[:, 0].min(), bounds[:, 1].min()
    max_lon, max_lat = bounds[:, 2].max(), bounds[:, 3].max()
    dlat = spacing_deg
    dlon = spacing_deg / math.cos(math.radians((min_lat + max_lat) / 2))
    lons = np.arange(min_lon + dlon / 2, max_lon, dlon)
    lats = np.arange(min_lat + dlat / 2, max_lat, dlat)
    grid_lon, grid_lat = np.meshgrid(lons, lats)
    rng = np.random.default_rng(seed)
    # Jitter of at most 1/8 spacing each way keeps neighbours >= 3/4 spacing (~66 m) apart.
    xs = grid_lon.ravel() + rng.uniform(-dlon / 8, dlon / 8, grid_lon.size)
    ys = grid_lat.ravel() + rng.uniform(-dlat / 8, dlat / 8, grid_lat.size)
    points = shapely.points(xs, ys)
    hit_points, _ = tree.query(points, predicate="intersects")
    inside = np.unique(hit_points)
    if len(inside) < count:
        raise RuntimeError(f"only {len(inside)} lattice points fall inside the grids; {count} wanted")
    chosen = rng.permutation(inside)[:count]
    return [(round(float(xs[i]), 6), round(float(ys[i]), 6)) for i in chosen]


# (category, weight, attributes builder, routes to): the mix every request body and every
# pre-inserted request uses. Mostly grid-team work (the costlier routing path), some departments,
# a little key-group (leader notification).
CATEGORY_MIX: list[tuple[str, int, str]] = [
    ("env.noise", 40, "grid team"),
    ("housing.property", 20, "grid team"),
    ("env.sanitation", 10, "department HB"),
    ("city.street_light", 10, "district department"),
    ("utilities.power", 5, "department DL"),
    ("traffic", 5, "department JT"),
    ("elderly", 4, "department MZ"),
    ("medical", 4, "department WJ"),
    ("land.acquisition", 2, "department ZR, key group"),
]
_CATEGORY_WHEEL = [code for code, weight, _ in CATEGORY_MIX for _ in range(weight)]
_PHRASES = [
    "楼下夜间施工噪声很大，影响休息",
    "小区路灯坏了好几天，晚上出行不安全",
    "物业长期不处理电梯故障，老人上下楼困难",
    "垃圾清运不及时，气味很大",
    "路口红绿灯时间太短，行人来不及过马路",
    "家中老人需要居家养老服务，想咨询办理流程",
    "社区卫生服务站周末不开门，看病不方便",
    "停电频繁，希望供电部门查明原因",
]
_NAMES = ["张三", "李四", "王五", "赵六", "陈静", "刘洋", "周敏", "吴磊"]
_NOISE = ["construction", "shop", "neighbour", "traffic"]


def category_for(n: int) -> str:
    return _CATEGORY_WHEEL[(n * 37) % len(_CATEGORY_WHEEL)]


def request_body(n: int, point: tuple[float, float], prefix: str) -> bytes:
    """Body n: its own point, phone and external id, so no two are duplicates of each other."""
    category = category_for(n)
    body: dict[str, Any] = {
        "channel": "hotline",
        "category": category,
        "description": f"{_PHRASES[n % len(_PHRASES)]}。第{n}号来电。",
        "location": {"lat": point[1], "lon": point[0]},
        "citizen": {"name": _NAMES[n % len(_NAMES)], "phone": f"139{n % 100_000_000:08d}", "anonymous": False},
        "external_id": f"{prefix}-{n}",
    }
    if category == "env.noise":
        body["attributes"] = {"noise_source": _NOISE[n % len(_NOISE)]}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


# ---- an open-loop generator that keeps every answer --------------------------------------------


@dataclass(slots=True)
class Sent:
    index: int
    wall: float  # scheduled send time, time.time() clock (the database's clock on this machine)
    status: int = 0  # 0: no answer (transport error, or still pending when the drain ran out)
    latency_ms: float = math.nan  # from the scheduled send time to the answer
    request_id: int | None = None
    error: str | None = None


@dataclass
class LoopStats:
    label: str
    rate: float
    duration: float
    records: list[Sent] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)  # a few non-2xx bodies
    late_sends: int = 0  # sends that left > 10 ms after their schedule (the generator fell behind)

    @property
    def statuses(self) -> Counter[int]:
        return Counter(r.status for r in self.records)

    @property
    def accepted(self) -> list[Sent]:
        return [r for r in self.records if r.status == 201 and r.request_id is not None]

    def summary(self) -> str:
        lat = sorted(r.latency_ms for r in self.records if r.status)
        statuses = ", ".join(f"{k or 'none'}: {v}" for k, v in sorted(self.statuses.items()))
        line = (
            f"{self.label}: {len(self.records)} sent at {self.rate:g}/s over {self.duration:.1f} s; "
            f"statuses {{{statuses}}}; HTTP latency p50 {c.fmt(c.percentile(lat, 50), 1)} ms, "
            f"p95 {c.fmt(c.percentile(lat, 95), 1)} ms, p99 {c.fmt(c.percentile(lat, 99), 1)} ms, "
            f"max {c.fmt(lat[-1] if lat else math.nan, 1)} ms"
        )
        errors = Counter(r.error for r in self.records if r.error)
        if errors:
            line += "; errors " + ", ".join(f"{k}: {v}" for k, v in errors.most_common())
        if self.late_sends:
            line += f"; {self.late_sends} sends left > 10 ms late"
        for sample in self.samples[:3]:
            line += f"\n    non-2xx sample: {sample}"
        return line


class _Connection:
    """One keep-alive HTTP/1.1 connection: send a request, read one response."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def send(self, raw: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(c.HOST, self.port)
        assert self.reader is not None and self.writer is not None
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, keep = 0, True
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and b"close" in value.lower():
                keep = False
            elif name == b"transfer-encoding":
                raise ValueError("chunked answers are not expected here")
        body = await self.reader.readexactly(length) if length else b""
        if not keep:
            self.close()
        return status, body


def http_request(path: str, headers: dict[str, str], body: bytes) -> bytes:
    head = [f"POST {path} HTTP/1.1", f"Host: {c.HOST}", "Content-Type: application/json"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


async def open_loop(
    port: int,
    path: str,
    headers: dict[str, str],
    body: Callable[[int], bytes],
    *,
    rate: float,
    duration: float,
    label: str,
    connections: int = 64,
    drain: float = 15.0,
    answer_within: float = 20.0,
    first_index: int = 0,
    stop: asyncio.Event | None = None,
) -> LoopStats:
    """Send `rate` requests/s for `duration` s on a fixed schedule, whatever the answers do
    (no coordinated omission); a request waits for a free connection if all are busy."""
    stats = LoopStats(label, rate, duration)
    pool: asyncio.Queue[_Connection] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(_Connection(port))
    outstanding: set[asyncio.Task[None]] = set()
    total = int(rate * duration)
    interval = 1.0 / rate
    start_perf = time.perf_counter() + 0.05
    start_wall = time.time() + (start_perf - time.perf_counter())

    async def one(record: Sent, raw: bytes, scheduled: float) -> None:
        conn = await pool.get()
        try:
            status, answer = await asyncio.wait_for(conn.send(raw), answer_within)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, TimeoutError) as exc:
            record.error = type(exc).__name__
            conn.close()
            return
        except asyncio.CancelledError:
            record.error = "unfinished"
            conn.close()
            raise
        finally:
            pool.put_nowait(conn)
        record.latency_ms = (time.perf_counter() - scheduled) * 1000
        record.status = status
        if status == 201:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                record.request_id = int(json.loads(answer)["id"])
        elif len(stats.samples) < 5:
            stats.samples.append(f"{status} {answer[:300].decode(errors='replace')}")

    for i in range(total):
        if stop is not None and stop.is_set():
            break
        scheduled = start_perf + i * interval
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.01:
            stats.late_sends += 1
        record = Sent(first_index + i, start_wall + i * interval)
        stats.records.append(record)
        task = asyncio.create_task(one(record, http_request(path, headers, body(first_index + i)), scheduled))
        outstanding.add(task)
        task.add_done_callback(outstanding.discard)
    stats.duration = time.perf_counter() - start_perf
    if outstanding:
        _, pending = await asyncio.wait(set(outstanding), timeout=drain)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
    for record in stats.records:
        if record.status == 0 and record.error is None:
            record.error = "unfinished"  # still waiting for a free connection when the drain ran out
    while not pool.empty():
        pool.get_nowait().close()
    return stats


def run_async(coro: Any) -> Any:
    """Run a coroutine on uvloop when installed (a cheaper client on a small machine)."""
    if c.has_module("uvloop"):
        import uvloop

        return uvloop.run(coro)
    return asyncio.run(coro)


# ---- watching routing decisions appear -----------------------------------------------------------


class AssignmentWatcher:
    """Polls `assignments` every `interval` s and notes, per request, when its routing_no = 1
    decision first became visible (time.time()), with the row's created_at (the routing
    transaction's start, by the database's clock).

    Ids are taken in insertion order but committed in any order (the worker runs jobs
    concurrently), so the poll asks for everything above the lowest id not seen yet; an id
    unseen for 5 s is taken for a gap (a rolled-back insert) and skipped.
    """

    def __init__(self, dsn: str, interval: float = 0.01) -> None:
        self.dsn = dsn
        self.interval = interval
        self.seen: dict[int, tuple[float, float, str]] = {}  # request id -> (visible, created_at, outcome)
        self.extra_decisions: Counter[int] = Counter()  # request id -> decisions beyond the first
        self.polls = 0
        self._low = 0  # every id <= _low has been seen (or given up as a gap)
        self._ids: set[int] = set()
        self._gaps: dict[int, float] = {}
        self._stop = asyncio.Event()

    async def start_at_current(self, conn: Any) -> None:
        self._low = int(await conn.fetchval("SELECT coalesce(max(id), 0) FROM assignments"))

    def stop(self) -> None:
        self._stop.set()

    async def run(self, max_seconds: float) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.dsn, timeout=10)
        try:
            await self.start_at_current(conn)
            deadline = time.monotonic() + max_seconds
            while not self._stop.is_set() and time.monotonic() < deadline:
                await self.poll(conn)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.interval)
            await self.poll(conn)
        finally:
            await conn.close()

    async def poll(self, conn: Any) -> None:
        rows = await conn.fetch(
            "SELECT id, request_id, routing_no, outcome, extract(epoch FROM created_at)::float8 AS created "
            "FROM assignments WHERE id > $1 ORDER BY id LIMIT 20000",
            self._low,
        )
        now = time.time()
        self.polls += 1
        for row in rows:
            if row["id"] in self._ids:
                continue
            self._ids.add(row["id"])
            if row["routing_no"] == 1 and row["request_id"] not in self.seen:
                self.seen[row["request_id"]] = (now, row["created"], row["outcome"])
            else:
                self.extra_decisions[row["request_id"]] += 1
        # Move the low-water mark over seen ids and over gaps older than 5 s.
        top = max(self._ids, default=self._low)
        low = self._low
        while low < top:
            nxt = low + 1
            if nxt in self._ids:
                self._ids.discard(nxt)
                low = nxt
                continue
            first = self._gaps.setdefault(nxt, now)
            if now - first > 5.0:
                del self._gaps[nxt]
                low = nxt
                continue
            break
        self._low = low


# ---- the routing worker as a child process -------------------------------------------------------


class Worker(c.Server):
    """`python -m arq routing_worker.worker.WorkerSettings`, its output in `<name>.log`."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        super().__init__(name, WORKER_ARGS, env, 0, log_dir)
        self.started = time.time()

    def kill9(self) -> None:
        """SIGKILL this worker (its own pid only) and reap it."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)

    def alive(self) -> bool:
        return self.process.poll() is None


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


# ---- py-spy -------------------------------------------------------------------------------------


def py_spy_exe() -> str | None:
    exe = shutil.which("py-spy") or str(Path(c.PYTHON).parent / "py-spy")
    return exe if Path(exe).exists() else None


def py_spy_version() -> str:
    exe = py_spy_exe()
    if exe is None:
        return "not installed"
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False, timeout=10)
    return out.stdout.strip() or "unknown version"


def py_spy_record(pid: int, seconds: float, out: Path, rate: int = 100) -> subprocess.Popen[bytes] | None:
    """Sample `pid` for `seconds` without pausing it; collapsed stacks go to `out`."""
    exe = py_spy_exe()
    if exe is None:
        c.log("py-spy is not installed in the venv: no profile")
        return None
    cmd = [exe, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))), "--rate", str(rate)]
    cmd += ["--format", "raw", "--output", str(out), "--nonblocking"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def py_spy_report(proc: subprocess.Popen[bytes] | None, out: Path, top: int = 30, label: str = "") -> None:
    """Wait for a py-spy run and print the functions holding the most samples (own and total)."""
    if proc is None:
        return
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    if proc.returncode != 0 or not out.exists():
        c.log(f"py-spy failed ({proc.returncode}): {err.decode(errors='replace')[-400:]}")
        return
    total_counts: Counter[str] = Counter()
    own_counts: Counter[str] = Counter()
    samples = 0
    for line in out.read_text(errors="replace").splitlines():
        stack, _, n_text = line.rpartition(" ")
        if not stack or not n_text.isdigit():
            continue
        n = int(n_text)
        frames = [_short(f) for f in stack.split(";")]
        samples += n
        for frame in set(frames):
            total_counts[frame] += n
        own_counts[frames[-1]] += n
    if not samples:
        c.log("py-spy: no samples")
        return
    project = [(f, n) for f, n in total_counts.most_common() if f.split(" (", 1)[-1].startswith(PROJECT_DIRS)]
    c.log(f"py-spy {label}: {samples} samples while the process was not idle (SQLAlchemy's greenlets show as")
    c.log("  separate stacks, so the project's own frames are the readable breakdown)")
    c.log("  project code, total (the function and everything it calls), % of samples:")
    for frame, n in project[:top]:
        c.log(f"    {100 * n / samples:5.1f}%  {frame}")
    c.log("  own time (the function's own code), % of samples:")
    for frame, n in own_counts.most_common(top // 2):
        c.log(f"    {100 * n / samples:5.1f}%  {frame}")


PROJECT_DIRS = ("routing_worker/", "services/", "shared/", "intake_api/")


def _short(frame: str) -> str:
    """`fn (/long/path/site-packages/pkg/mod.py:12)` -> `fn (pkg/mod.py:12)`."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for marker in ("site-packages/", str(c.ROOT) + "/", "lib/python3"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    return f"{name} ({where})"


def shuffled(items: list[Any], seed: int) -> list[Any]:
    out = list(items)
    random.Random(seed).shuffle(out)
    return out


if __name__ == "__main__":
    print("helper=bench/_procs.py (shared by bench/routing.py and bench/chaos.py; nothing to run)")
    sys.exit(0)
