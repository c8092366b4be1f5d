"""Load generation over HTTP/1.1 keep-alive connections on raw asyncio streams (cheaper per
request than a general-purpose client, which matters on a 2-core machine), and wrk.

* `Conn`, `raw_request`: one connection, one request's bytes.
* `Schedule`, `drain`: an open loop's fixed send times (no coordinated omission) and its end.
* `closed_loop`, `open_loop`: figures only (`LoadResult`); `tracked_open_loop`: every request kept
  (`LoopStats` of `Sent`: scheduled time, status, the id in a `201` body).
* `run_wrk`, `write_wrk_script`: closed-loop load with wrk and a Lua script, read back as JSON.

Only 127.0.0.1 is ever contacted; every loop is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.kit.data import request_body
from bench.kit.measure import fmt, percentile
from bench.kit.platform import HOST, has_module

BodyFactory = Callable[[int], bytes]


def run_async(coro: Any) -> Any:
    """Run a coroutine on uvloop when installed (a cheaper client on a small machine)."""
    if has_module("uvloop"):
        import uvloop

        return uvloop.run(coro)
    return asyncio.run(coro)


def raw_request(method: str, path: str, headers: dict[str, str], body: bytes = b"", ctype: str = "") -> bytes:
    """One HTTP/1.1 request; a POST (or any call with a body) is JSON unless `ctype` says otherwise."""
    head = [f"{method} {path} HTTP/1.1", f"Host: {HOST}"]
    if body or method == "POST":
        head += [f"Content-Type: {ctype or 'application/json'}", f"Content-Length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


class Conn:
    """One keep-alive HTTP/1.1 connection, opened on first use: send a request, read one response."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def exchange(self, raw: bytes) -> tuple[int, bytes]:
        """Send one request, read one response: (status, body)."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        assert self.reader is not None and self.writer is not None
        self.writer.write(raw)
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                raise
            self.close()
            raise ConnectionError("connection closed by the server") from None
        except asyncio.LimitOverrunError as exc:
            raise ValueError(f"an answer's head is too long: {exc}") from None
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = 0
        chunked = close = False
        for line in lines[1:]:
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


def conn_pool(port: int, size: int) -> asyncio.Queue[Conn]:
    pool: asyncio.Queue[Conn] = asyncio.Queue()
    for _ in range(size):
        pool.put_nowait(Conn(port))
    return pool


def close_pool(pool: asyncio.Queue[Conn]) -> None:
    while not pool.empty():
        pool.get_nowait().close()


async def pooled_exchange(pool: asyncio.Queue[Conn], raw: bytes, within: float | None = None) -> tuple[int, bytes]:
    """One exchange on a connection of `pool` (waiting for a free one), answered `within` s if
    given; a connection that failed is closed (and reopened on its next use)."""
    conn = await pool.get()
    try:
        if within is None:
            return await conn.exchange(raw)
        return await asyncio.wait_for(conn.exchange(raw), within)
    except BaseException:
        conn.close()
        raise
    finally:
        pool.put_nowait(conn)


class Schedule:
    """`rate` sends per second for `duration` s from 50 ms from now, whatever the answers do (no
    coordinated omission): slot i is due at `perf(i)` (time.perf_counter()), `wall(i)` (time.time())."""

    def __init__(self, rate: float, duration: float) -> None:
        self.total = int(rate * duration)
        self.interval = 1.0 / rate
        self.start_perf = time.perf_counter() + 0.05
        self.start_wall = time.time() + (self.start_perf - time.perf_counter())
        self.late = 0  # slots that came > 10 ms after their time (the generator fell behind)

    def perf(self, i: int) -> float:
        return self.start_perf + i * self.interval

    def wall(self, i: int) -> float:
        return self.start_wall + i * self.interval

    async def slots(self, stop: asyncio.Event | None = None) -> AsyncIterator[int]:
        """Each slot number at its time (until `stop` is set)."""
        for i in range(self.total):
            if stop is not None and stop.is_set():
                break
            delay = self.perf(i) - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.01:
                self.late += 1
            yield i


async def drain(outstanding: set[asyncio.Task[None]], seconds: float) -> tuple[set[asyncio.Task[None]], float]:
    """Wait up to `seconds` for the sends still out, then cancel the rest: (those cancelled,
    time.perf_counter() when the wait ended)."""
    if not outstanding:
        return set(), time.perf_counter()
    _, pending = await asyncio.wait(set(outstanding), timeout=seconds)
    ended = time.perf_counter()
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
    return pending, ended


# ---- figures only ------------------------------------------------------------------------------


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

    def note(self, status: int, body: bytes) -> None:
        self.statuses[status] += 1
        if not 200 <= status < 300 and len(self.bad_samples) < 5:
            self.bad_samples.append(f"{status} {body[:300].decode(errors='replace')}")

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


async def _closed_loop(
    port: int, path: str, headers: dict[str, str], bodies: BodyFactory, connections: int, duration: float, label: str
) -> LoadResult:
    result = LoadResult(label, duration)
    counter = iter(range(10**9))
    started = time.perf_counter()
    deadline = started + duration

    async def worker() -> None:
        conn = Conn(port)
        while time.perf_counter() < deadline:
            raw = raw_request("POST", path, headers, bodies(next(counter)))
            t0 = time.perf_counter()
            try:
                status, body = await asyncio.wait_for(conn.exchange(raw), 30)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
                result.errors[type(exc).__name__] += 1
                conn.close()
                await asyncio.sleep(0.01)
                continue
            result.latencies_ms.append((time.perf_counter() - t0) * 1000)
            result.note(status, body)
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
    drain_s: float,
    label: str,
    first_index: int,
) -> LoadResult:
    """Send at fixed intervals whatever happens; latency counts from the scheduled send time
    (so a slow server cannot hide its queueing by slowing the generator: no coordinated omission)."""
    result = LoadResult(label, duration)
    schedule = Schedule(rate, duration)
    result.scheduled = schedule.total
    pool = conn_pool(port, connections)
    outstanding: set[asyncio.Task[None]] = set()
    last_answer = [0.0]
    scheduled_at: dict[asyncio.Task[None], float] = {}

    async def one(index: int, scheduled: float) -> None:
        raw = raw_request("POST", path, headers, bodies(first_index + index))
        try:
            status, body = await pooled_exchange(pool, raw)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            result.errors[type(exc).__name__] += 1
            return
        answered = time.perf_counter()
        last_answer[0] = max(last_answer[0], answered)
        result.latencies_ms.append((answered - scheduled) * 1000)
        result.note(status, body)

    async for index in schedule.slots():
        task = asyncio.create_task(one(index, schedule.perf(index)))
        outstanding.add(task)
        scheduled_at[task] = schedule.perf(index)
        task.add_done_callback(outstanding.discard)
    end_of_schedule = time.perf_counter()
    pending, now = await drain(outstanding, drain_s)
    if pending:
        result.unfinished = len(pending)
        result.errors["unfinished"] += len(pending)
        # An unanswered request counts in the percentiles with at least its waiting time so far.
        result.latencies_ms += [(now - scheduled_at[task]) * 1000 for task in pending]
    result.duration = end_of_schedule - schedule.start_perf
    result.span = max(last_answer[0], schedule.start_perf) - schedule.start_perf
    result.compute_percentiles()
    close_pool(pool)
    return result


def closed_loop(
    port: int, path: str, headers: dict[str, str], bodies: BodyFactory, *, connections: int, duration: float, label: str
) -> LoadResult:
    """POSTs on `connections` connections, each sending as soon as it has its answer, for `duration` s."""
    return run_async(_closed_loop(port, path, headers, bodies, connections, duration, label))


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
    """POSTs at `rate`/s for `duration` s on a fixed schedule (`Schedule`): the figures."""
    return run_async(_open_loop(port, path, headers, bodies, rate, duration, connections, drain, label, first_index))


# ---- every answer kept -------------------------------------------------------------------------


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
            f"statuses {{{statuses}}}; HTTP latency p50 {fmt(percentile(lat, 50), 1)} ms, "
            f"p95 {fmt(percentile(lat, 95), 1)} ms, p99 {fmt(percentile(lat, 99), 1)} ms, "
            f"max {fmt(lat[-1] if lat else math.nan, 1)} ms"
        )
        errors = Counter(r.error for r in self.records if r.error)
        if errors:
            line += "; errors " + ", ".join(f"{k}: {v}" for k, v in errors.most_common())
        if self.late_sends:
            line += f"; {self.late_sends} sends left > 10 ms late"
        for sample in self.samples[:3]:
            line += f"\n    non-2xx sample: {sample}"
        return line


async def tracked_open_loop(
    port: int,
    path: str,
    headers: dict[str, str],
    body: BodyFactory,
    *,
    rate: float,
    duration: float,
    label: str,
    connections: int = 64,
    drain_s: float = 15.0,
    answer_within: float = 20.0,
    first_index: int = 0,
    stop: asyncio.Event | None = None,
) -> LoopStats:
    """Send `rate` requests/s for `duration` s on a fixed schedule, whatever the answers do
    (no coordinated omission); a request waits for a free connection if all are busy."""
    stats = LoopStats(label, rate, duration)
    pool = conn_pool(port, connections)
    outstanding: set[asyncio.Task[None]] = set()
    schedule = Schedule(rate, duration)

    async def one(record: Sent, raw: bytes, scheduled: float) -> None:
        try:
            status, answer = await pooled_exchange(pool, raw, answer_within)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, TimeoutError) as exc:
            record.error = type(exc).__name__
            return
        except asyncio.CancelledError:
            record.error = "unfinished"
            raise
        record.latency_ms = (time.perf_counter() - scheduled) * 1000
        record.status = status
        if status == 201:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                record.request_id = int(json.loads(answer)["id"])
        elif len(stats.samples) < 5:
            stats.samples.append(f"{status} {answer[:300].decode(errors='replace')}")

    async for i in schedule.slots(stop):
        record = Sent(first_index + i, schedule.wall(i))
        stats.records.append(record)
        raw = raw_request("POST", path, headers, body(first_index + i))
        task = asyncio.create_task(one(record, raw, schedule.perf(i)))
        outstanding.add(task)
        task.add_done_callback(outstanding.discard)
    stats.late_sends = schedule.late
    stats.duration = time.perf_counter() - schedule.start_perf
    await drain(outstanding, drain_s)
    for record in stats.records:
        if record.status == 0 and record.error is None:
            record.error = "unfinished"  # still waiting for a free connection when the drain ran out
    close_pool(pool)
    return stats


async def intake_open_loop(
    port: int,
    headers: dict[str, str],
    points: list[tuple[float, float]],
    prefix: str,
    *,
    rate: float,
    duration: float,
    label: str,
    first: int = 0,
) -> LoopStats:
    """`POST /v1/requests` open loop (`tracked_open_loop`), body n at point n (`request_body`, external id `prefix-n`)."""
    return await tracked_open_loop(
        port,
        "/v1/requests",
        headers,
        lambda i: request_body(i, points[i], prefix),
        rate=rate,
        duration=duration,
        label=label,
        first_index=first,
    )


# ---- wrk ---------------------------------------------------------------------------------------


def wrk_path() -> str | None:
    return shutil.which("wrk")


def wrk_version() -> str:
    out = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False).stdout.split()
    return f"wrk {out[1]}" if len(out) > 1 else "wrk"


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
