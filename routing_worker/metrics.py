"""The workers' Prometheus metrics (docs/operations.md, "Metrics"): defined here, served on a port of each
worker, recorded by the jobs around the service calls (the domain code under `services/` knows nothing of
Prometheus).

Three kinds:
* counters and histograms, recorded where the work happens (routing latency, webhook results, SLA sweep
  duration, hot-spot alerts, every job's duration and result): each process counts its own work, so a
  dashboard sums them over the workers;
* gauges read from Redis and PostgreSQL (queue depth and age, outbox backlog, yellow and red cards by
  district), refreshed by the cron `refresh_metrics` every 15 s rather than per scrape (a scrape never
  waits on the database): every routing worker reports the same values, so a dashboard takes their `max`;
* the process's own (`process_*`, `python_*`) from prometheus_client's default collectors.
"""

import functools
import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from threading import Thread
from typing import Any
from wsgiref.simple_server import WSGIServer

from arq.constants import in_progress_key_prefix
from prometheus_client import REGISTRY, Counter, Gauge, Histogram, start_http_server
from redis.asyncio import Redis

from routing_worker.tasks import Task
from services.lifecycle.standing import STANDINGS, standing_by_district
from services.routing.backlog import outbox_backlog
from shared.db import unit_of_work
from shared.queue import DEFAULT_QUEUE, LONG_QUEUE

logger = logging.getLogger("minqing.metrics")

QUEUES = (DEFAULT_QUEUE, LONG_QUEUE)
WEBHOOK_RESULTS = ("delivered", "retried", "failed", "superseded")

# ---- gauges refreshed by `refresh` -------------------------------------------------------------------

QUEUE_DEPTH = Gauge("minqing_queue_depth", "Jobs in an arq queue: waiting, deferred or running", ["queue"])
QUEUE_OLDEST_AGE = Gauge(
    "minqing_queue_oldest_age_seconds",
    "How long the oldest job due and not yet started has waited (0: none)",
    ["queue"],
)
OUTBOX_BACKLOG = Gauge("minqing_outbox_backlog", "Outbox entries not processed yet", ["topic"])
OUTBOX_OLDEST_AGE = Gauge(
    "minqing_outbox_oldest_age_seconds", "Age of the oldest outbox entry not processed yet (0: none)", ["topic"]
)
SLA_OPEN = Gauge(
    "minqing_sla_open_requests",
    "Open requests on a yellow (warning) or red (overdue) card, by district",
    ["district", "district_name", "state"],
)
REFRESHED = Gauge(
    "minqing_worker_metrics_refreshed_timestamp_seconds",
    "When this worker last refreshed the gauges it reads from Redis and PostgreSQL (Unix time)",
)

# ---- recorded where the work happens ------------------------------------------------------------------

ROUTING_LATENCY = Histogram(
    "minqing_routing_latency_seconds",
    "From a request's receipt to the commit of its first routing decision",
    ["outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800),
)
WEBHOOK_DELIVERIES = Counter(
    "minqing_webhook_deliveries_total",
    "Webhook delivery attempts by result (delivered; retried: will be sent again; failed: given up; "
    "superseded: the lease ran out and another sweep took the row over)",
    ["result"],
)
SLA_SWEEP_SECONDS = Histogram(
    "minqing_sla_sweep_seconds",
    "Duration of one SLA sweep (warning, overdue, timed climbs, no-evaluation close)",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20),
)
SLA_CHANGES = Counter("minqing_sla_changes_total", "What the SLA sweeps changed, by kind", ["kind"])
HOTSPOT_ALERTS = Counter(
    "minqing_hotspot_alerts_total", "Hot-spot alerts raised, by top-level category", ["category", "key_group"]
)
JOBS = Counter("minqing_worker_jobs_total", "Jobs and crons a worker ran, by result", ["queue", "function", "result"])
JOB_SECONDS = Histogram(
    "minqing_worker_job_seconds",
    "Duration of the jobs and crons a worker ran",
    ["queue", "function"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 60, 300, 1800),
)

# Every result a rule or panel looks at exists from the start, at 0: `rate()` of a missing series is no
# value at all, not 0, and an alert on it would never fire.
for _result in WEBHOOK_RESULTS:
    WEBHOOK_DELIVERIES.labels(_result)
for _outcome in ("assigned", "needs_dispatch"):
    ROUTING_LATENCY.labels(_outcome)


def record_routing(first_routings: Iterable[tuple[datetime, str]], *, now: datetime | None = None) -> None:
    """Observe each first routing's latency (the decision is committed when this is called)."""
    at = now or datetime.now(UTC)
    for received_at, outcome in first_routings:
        ROUTING_LATENCY.labels(outcome).observe(max(0.0, (at - received_at).total_seconds()))


def record_deliveries(stats: dict[str, int]) -> None:
    """Count a webhook sweep's outcomes (`services.webhooks.service.DeliveryStats` as a dict)."""
    for result in WEBHOOK_RESULTS:
        if stats.get(result):
            WEBHOOK_DELIVERIES.labels(result).inc(stats[result])


def record_sla_sweep(seconds: float, counts: dict[str, int]) -> None:
    SLA_SWEEP_SECONDS.observe(seconds)
    for kind, n in counts.items():
        SLA_CHANGES.labels(kind).inc(n)


def record_hotspots(alerts: Iterable[tuple[str, bool]]) -> None:
    """Count raised alerts, given as (top-level category, key group)."""
    for category, key_group in alerts:
        HOTSPOT_ALERTS.labels(category, "true" if key_group else "false").inc()


def instrumented(function: Task, queue: str) -> Task:
    """`function` timed and counted by result (`ok`, `error`, `cancelled`: a timeout or a shutdown); arq
    registers the wrapper under the function's own name."""
    name = function.__name__

    @functools.wraps(function)
    async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        result = "cancelled"
        try:
            value = await function(ctx, *args, **kwargs)
            result = "ok"
            return value
        except Exception:
            result = "error"
            raise
        finally:
            JOB_SECONDS.labels(queue, name).observe(time.perf_counter() - started)
            JOBS.labels(queue, name, result).inc()

    return run


# ---- the gauges read from Redis and PostgreSQL ----------------------------------------------------------

# The oldest due job that no worker has started: arq leaves a running job in its queue (with an in-progress
# key) until it ends, so the lowest score may be a job running for minutes. Looks at the 256 oldest due
# jobs at most (the running ones come first: at most `max_jobs` per worker); if all run, the last one's.
_OLDEST_WAITING = """
local due = redis.call('zrangebyscore', KEYS[1], '-inf', ARGV[2], 'WITHSCORES', 'LIMIT', 0, 256)
local last = false
for i = 1, #due, 2 do
  last = due[i + 1]
  if redis.call('exists', ARGV[1] .. due[i]) == 0 then return due[i + 1] end
end
return last
"""


async def refresh_queues(redis: Redis, *, now_ms: int | None = None) -> None:
    """Depth and age of the oldest waiting job, per queue."""
    at = now_ms if now_ms is not None else int(time.time() * 1000)
    oldest_waiting = redis.register_script(_OLDEST_WAITING)
    for queue in QUEUES:
        QUEUE_DEPTH.labels(queue).set(await redis.zcard(queue))
        score = await oldest_waiting(keys=[queue], args=[in_progress_key_prefix, at])
        QUEUE_OLDEST_AGE.labels(queue).set(max(0.0, (at - float(score)) / 1000) if score else 0.0)


async def refresh_database(*, now: datetime | None = None) -> None:
    """Outbox backlog and the yellow and red cards by district, in one short read-only unit of work."""
    at = now or datetime.now(UTC)
    async with unit_of_work() as session:
        backlogs = await outbox_backlog(session)
        standings = await standing_by_district(session)
    for backlog in backlogs:
        OUTBOX_BACKLOG.labels(backlog.topic).set(backlog.entries)
        age = (at - backlog.oldest).total_seconds() if backlog.oldest is not None else 0.0
        OUTBOX_OLDEST_AGE.labels(backlog.topic).set(max(0.0, age))
    seen: set[tuple[str, str, str]] = set()
    for standing in standings:
        for state in STANDINGS:
            labels = (standing.district, standing.name, state)
            SLA_OPEN.labels(*labels).set(getattr(standing, state))
            seen.add(labels)
    # A district renamed or deleted: drop its old series instead of reporting stale counts forever.
    for labels in _children(SLA_OPEN) - seen:
        SLA_OPEN.remove(*labels)


def _children(gauge: Gauge) -> set[tuple[str, str, str]]:
    """The label values of the series a gauge holds (prometheus_client has no public accessor)."""
    found: set[tuple[str, str, str]] = set()
    for family in gauge.collect():
        for sample in family.samples:
            found.add((sample.labels["district"], sample.labels["district_name"], sample.labels["state"]))
    return found


async def refresh(redis: Redis) -> None:
    """Every gauge this module reads from Redis and PostgreSQL; then the refresh time."""
    await refresh_queues(redis)
    await refresh_database()
    REFRESHED.set(time.time())


# ---- the endpoint --------------------------------------------------------------------------------------

_server: tuple[WSGIServer, Thread] | None = None


def serve(port: int, host: str) -> int | None:
    """Serve `/metrics` (the default registry) on `host:port` in a thread; the port bound, or None when
    `port` is 0 or taken (logged: the worker goes on working without metrics; Prometheus shows it down)."""
    global _server
    if port == 0:
        return None
    stop_serving()
    try:
        _server = start_http_server(port, addr=host, registry=REGISTRY)
    except OSError as exc:
        logger.error("worker metrics: cannot listen", extra={"host": host, "port": port, "error": str(exc)})
        return None
    bound = int(_server[0].server_port)
    logger.info("worker metrics", extra={"url": f"http://{host}:{bound}/metrics"})
    return bound


def stop_serving() -> None:
    """Stop the metrics endpoint (the worker's shutdown hook)."""
    global _server
    if _server is not None:
        server, thread = _server
        server.shutdown()
        server.server_close()
        thread.join(5)
        _server = None
