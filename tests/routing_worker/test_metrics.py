"""The workers' Prometheus metrics (docs/operations.md, "Metrics"): served on each worker's port, moved by
real jobs on real PostgreSQL and Redis, scraped over HTTP."""

import logging
import socket
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import pytest
from arq.worker import create_worker
from prometheus_client.parser import text_string_to_metric_families

from routing_worker import metrics
from routing_worker.jobs.alert_jobs import scan_hotspots
from routing_worker.jobs.metrics_jobs import refresh_metrics
from routing_worker.jobs.sla_jobs import sla_sweep
from routing_worker.jobs.webhook_jobs import deliver_webhooks
from routing_worker.worker import LongWorkerSettings, WorkerSettings
from services.models import OutboxEntry, Request
from services.webhooks.service import emit
from shared.queue import DEFAULT_QUEUE, LONG_QUEUE, get_queue
from tests.factories import at_grid, make_api_key, make_catalog, make_request, make_small_city, make_subscription
from tests.kit import WebhookReceiver, create_request, drain
from tests.services.alerts.helpers import add_requests, hours_before
from tests.settings import set_setting

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scrape(port: int) -> Samples:
    """Every sample `/metrics` on 127.0.0.1:`port` answers, by name and labels."""
    answer = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def endpoint():
    """The metrics endpoint on a free port of 127.0.0.1, as a worker serves it."""
    port = metrics.serve(free_port(), "127.0.0.1")
    assert port is not None
    yield port
    metrics.stop_serving()


async def test_the_routing_worker_serves_its_metrics_and_the_queue_and_routing_figures_move(
    intake_client, setup, monkeypatch
):
    port = free_port()
    set_setting(monkeypatch, "worker_metrics_port", port)
    for grid in (0, 1, 2):
        await create_request(intake_client, setup["key"], at_grid(grid, description=f"第{grid}件"))
    worker = create_worker(cast(Any, WorkerSettings), burst=True, handle_signals=False, poll_delay=0.01, cron_jobs=[])
    try:
        # The worker's startup hook opens the endpoint; nothing has run yet.
        startup = worker.on_startup
        assert startup is not None
        await startup(worker.ctx)
        worker.on_startup = None
        await refresh_metrics({"redis": await get_queue()})
        before = scrape(port)
        assert value(before, "minqing_queue_depth", queue=DEFAULT_QUEUE) == 3
        assert value(before, "minqing_queue_depth", queue=LONG_QUEUE) == 0
        assert value(before, "minqing_queue_oldest_age_seconds", queue=DEFAULT_QUEUE) >= 0
        assert value(before, "minqing_outbox_backlog", topic="route") == 3
        assert value(before, "minqing_worker_metrics_refreshed_timestamp_seconds") > 0

        await worker.main()  # routes the three requests (one batch, or more), then stops: burst mode
        await refresh_metrics({"redis": await get_queue()})
        after = scrape(port)
    finally:
        await worker.close()

    assert value(after, "minqing_queue_depth", queue=DEFAULT_QUEUE) == 0
    assert value(after, "minqing_queue_oldest_age_seconds", queue=DEFAULT_QUEUE) == 0
    assert value(after, "minqing_outbox_backlog", topic="route") == 0
    assert value(after, "minqing_outbox_oldest_age_seconds", topic="route") == 0
    latency = "minqing_routing_latency_seconds_count"
    assert value(after, latency, outcome="assigned") - value(before, latency, outcome="assigned") == 3
    # Routed within a minute of receipt (the three are committed, routed at once by the burst worker).
    assert value(after, "minqing_routing_latency_seconds_bucket", outcome="assigned", le="60.0") >= 3
    jobs = "minqing_worker_jobs_total"
    ran = value(after, jobs, queue=DEFAULT_QUEUE, function="route_request", result="ok")
    assert ran - value(before, jobs, queue=DEFAULT_QUEUE, function="route_request", result="ok") >= 1
    # The shutdown hook closed the endpoint.
    with pytest.raises(httpx.ConnectError):
        scrape(port)


async def test_the_long_worker_serves_its_own_port_and_counts_its_jobs(monkeypatch):
    port = free_port()
    set_setting(monkeypatch, "long_worker_metrics_port", port)
    await (await get_queue()).enqueue_job("ping", _job_id="ping:long", _queue_name=LONG_QUEUE)
    worker = create_worker(cast(Any, LongWorkerSettings), burst=True, handle_signals=False, poll_delay=0.01)
    try:
        await worker.main()
        samples = scrape(port)
    finally:
        await worker.close()
    assert value(samples, "minqing_worker_jobs_total", queue=LONG_QUEUE, function="ping", result="ok") >= 1
    assert value(samples, "minqing_worker_job_seconds_count", queue=LONG_QUEUE, function="ping") >= 1
    assert any(name == "process_resident_memory_bytes" for name, _ in samples)


async def test_a_stuck_outbox_entry_shows_as_backlog_and_age(session, endpoint):
    await make_catalog(session)
    request = await make_request(session)
    ten_minutes_ago = datetime.now(UTC) - timedelta(minutes=10)
    session.add(
        OutboxEntry(topic="route", job_id=f"route:{request.id}:1", request_id=request.id, payload={"version": 1})
    )
    session.add(
        OutboxEntry(
            topic="route",
            job_id=f"route:{request.id}:0",
            request_id=request.id,
            payload={"version": 0},
            created_at=ten_minutes_ago,
        )
    )
    # A processed entry is not backlog, however old.
    session.add(
        OutboxEntry(
            topic="route",
            job_id="route:old",
            request_id=request.id,
            payload={"version": 0},
            created_at=ten_minutes_ago - timedelta(days=1),
            processed_at=ten_minutes_ago,
        )
    )
    await session.commit()

    await refresh_metrics({})

    samples = scrape(endpoint)
    assert value(samples, "minqing_outbox_backlog", topic="route") == 2
    assert 600 <= value(samples, "minqing_outbox_oldest_age_seconds", topic="route") < 700


async def test_webhook_deliveries_are_counted_by_result_against_a_real_receiver(
    session, webhook_receiver: WebhookReceiver, monkeypatch, endpoint
):
    set_setting(monkeypatch, "webhook_allowed_hosts", ["127.0.0.1"])
    set_setting(monkeypatch, "webhook_allow_http", True)
    key, _ = await make_api_key(session, rights=("webhooks:manage",))
    await make_subscription(session, webhook_receiver.url("/ok"), key=key)
    await make_subscription(session, webhook_receiver.url("/fail"), key=key)
    await make_subscription(session, webhook_receiver.url("/gone"), key=key)
    await emit(session, "alert.raised", {"alert_id": 1, "community": "330203001001"}, for_actor=None)
    await session.commit()
    before = scrape(endpoint)

    stats = await deliver_webhooks({})

    after = scrape(endpoint)
    assert len(webhook_receiver.requests) == 3
    moved = {
        result: value(after, "minqing_webhook_deliveries_total", result=result)
        - value(before, "minqing_webhook_deliveries_total", result=result)
        for result in metrics.WEBHOOK_RESULTS
    }
    assert moved == {r: float(stats[r]) for r in metrics.WEBHOOK_RESULTS}
    # 200 delivered; 500 retried later; 410 is the receiver saying "gone": not retried (services/webhooks).
    assert moved["delivered"] == 1 and moved["retried"] + moved["failed"] == 2 and moved["retried"] >= 1


async def test_yellow_and_red_cards_are_counted_by_district_after_the_sla_sweep(
    intake_client, session, setup, endpoint
):
    red = await create_request(intake_client, setup["key"], at_grid(0, description="红牌"))  # district 330203
    yellow = await create_request(intake_client, setup["key"], at_grid(2, description="黄牌"))  # district 330205
    await create_request(intake_client, setup["key"], at_grid(1, description="按时"))  # 330203, on time
    await drain()
    now = datetime.now(UTC)
    overdue = await session.get(Request, red["id"], populate_existing=True)
    overdue.respond_warn_at = now - timedelta(minutes=30)
    overdue.respond_by = now - timedelta(minutes=1)
    warned = await session.get(Request, yellow["id"], populate_existing=True)
    warned.respond_warn_at = now - timedelta(minutes=1)
    await session.commit()
    before = scrape(endpoint)

    counts = await sla_sweep({})
    await refresh_metrics({})

    samples = scrape(endpoint)
    assert (counts["overdue"], counts["warning"]) == (1, 1)
    cards = {
        (labels["district"], labels["district_name"], labels["state"]): v
        for (name, label_set), v in samples.items()
        if name == "minqing_sla_open_requests"
        for labels in [dict(label_set)]
    }
    districts = setup["units"]
    assert cards == {
        ("330203", districts["330203"].name, "overdue"): 1,
        ("330203", districts["330203"].name, "warning"): 0,
        ("330205", districts["330205"].name, "overdue"): 0,
        ("330205", districts["330205"].name, "warning"): 1,
        ("none", "市级或未定位", "overdue"): 0,
        ("none", "市级或未定位", "warning"): 0,
    }
    assert value(samples, "minqing_sla_sweep_seconds_count") - value(before, "minqing_sla_sweep_seconds_count") == 1
    for kind in ("overdue", "warning"):
        moved = value(samples, "minqing_sla_changes_total", kind=kind) - value(
            before, "minqing_sla_changes_total", kind=kind
        )
        assert moved == 1, kind


async def test_a_deleted_district_leaves_the_cards_gauge(endpoint):
    metrics.SLA_OPEN.labels("999999", "旧区", "overdue").set(4)

    await refresh_metrics({})

    assert not any(dict(labels).get("district") == "999999" for _, labels in scrape(endpoint))


async def test_hot_spot_alerts_raised_are_counted_by_category(session, endpoint):
    units = await make_small_city(session)
    await make_catalog(session)
    await add_requests(
        session, units["330203001001001"], "env.noise", hours_before(datetime.now(UTC), 0.01, 0.02, 0.03, 0.04, 0.05)
    )
    await session.commit()
    before = scrape(endpoint)

    assert await scan_hotspots({}) == 1
    assert await scan_hotspots({}) == 0

    samples = scrape(endpoint)
    raised = "minqing_hotspot_alerts_total"
    labels = {"category": "env", "key_group": "false"}
    assert value(samples, raised, **labels) - value(before, raised, **labels) == 1


async def test_a_taken_port_is_logged_and_the_worker_works_on(caplog):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        with caplog.at_level(logging.ERROR, logger="minqing.metrics"):
            assert metrics.serve(holder.getsockname()[1], "127.0.0.1") is None
    assert "worker metrics: cannot listen" in caplog.text
    assert metrics.serve(0, "127.0.0.1") is None  # 0: off


def _instrumented_names() -> set[str]:
    return {f.__qualname__ for f in WorkerSettings.functions} | {c.name for c in WorkerSettings.cron_jobs}


def test_instrumented_jobs_keep_their_names_for_arq():
    # arq registers a function by its qualified name: callers enqueue `route_request`, not a wrapper's name.
    names = _instrumented_names()
    assert {"route_request", "ping", "cron:refresh_metrics", "cron:sla_sweep", "cron:deliver_webhooks"} <= names
    assert not any(name.removeprefix("cron:") == "run" for name in names)
