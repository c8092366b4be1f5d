"""The Grafana dashboard and the Prometheus rules in docs/ use exactly the metrics the workers export, and
the runbook describes each of them."""

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import Counter, Gauge, Histogram, Metric

from routing_worker import metrics

pytestmark = pytest.mark.pure

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "docs" / "grafana" / "minqing.json"
RULES = ROOT / "docs" / "prometheus" / "alerts.yml"
NAME = re.compile(r"\bminqing_[a-z0-9_]+")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def _families() -> dict[str, Metric]:
    """The metric families of routing_worker.metrics, by name (each `describe`s itself even with no sample)."""
    found: dict[str, Metric] = {}
    for collector in vars(metrics).values():
        if isinstance(collector, Counter | Gauge | Histogram):
            for family in collector.describe():
                found[family.name] = family
    return found


def _exported() -> dict[str, str]:
    """Every sample name the workers export -> the family it belongs to."""
    return {family + suffix: family for family, metric in _families().items() for suffix in SUFFIXES[metric.type]}


def _exprs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["expr"]] if isinstance(node.get("expr"), str) else []
        return own + [e for v in node.values() for e in _exprs(v)]
    if isinstance(node, list):
        return [e for v in node for e in _exprs(v)]
    return []


def _dashboard_exprs() -> list[str]:
    return _exprs(json.loads(DASHBOARD.read_text(encoding="utf-8")))


def _rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_the_workers_export_the_metrics_the_issue_asks_for():
    assert {
        "minqing_queue_depth",
        "minqing_queue_oldest_age_seconds",
        "minqing_outbox_backlog",
        "minqing_outbox_oldest_age_seconds",
        "minqing_routing_latency_seconds",
        "minqing_webhook_deliveries",
        "minqing_sla_sweep_seconds",
        "minqing_sla_open_requests",
        "minqing_hotspot_alerts",
    } <= set(_families())


def test_the_dashboard_uses_every_worker_metric_and_only_exported_ones():
    exprs = _dashboard_exprs()
    assert exprs, "the dashboard has panels with queries"
    used = {name for expr in exprs for name in NAME.findall(expr)}
    exported = _exported()
    assert used - set(exported) == set(), "the dashboard queries metrics nobody exports"
    assert {exported[name] for name in used} == set(_families()), "a worker metric is missing from the dashboard"


def test_every_panel_reads_the_chosen_prometheus_data_source():
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert [v["name"] for v in dashboard["templating"]["list"]] == ["datasource"]
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
            assert panel["targets"], panel["title"]


def test_the_alert_rules_parse_and_cover_a_stuck_outbox_a_growing_queue_and_failing_webhooks():
    rules = _rules()
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names))
    assert {"MinqingOutboxStuck", "MinqingQueueGrowing", "MinqingWebhooksFailing"} <= set(names)
    exported = _exported()
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning", "info"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        if "for" in rule:
            assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        # Brackets and parentheses balance: a cheap syntax check where no promtool is installed.
        for opening, closing in ("()", "[]", "{}"):
            assert rule["expr"].count(opening) == rule["expr"].count(closing), rule["alert"]
        assert set(NAME.findall(rule["expr"])) <= set(exported), rule["alert"]


def test_the_runbook_describes_every_worker_metric_and_rule():
    runbook = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    section = runbook[runbook.index("## Metrics") :]
    for family in _families():
        assert f"`{family}" in section, family
    for rule in _rules():
        assert rule["alert"] in section, rule["alert"]
