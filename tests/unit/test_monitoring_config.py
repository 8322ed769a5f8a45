"""The monitoring configuration in deploy/: the Prometheus alerting rules pass `promtool check rules` and
their unit tests (`promtool test rules`), every alert is documented in deploy/RUNBOOK.md, and the rules
and the Grafana dashboard only name metrics that the processes (consume, project, serve) export."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator

import pytest
from conftest import REPO, ledger_at, services_required
from monitoring_support import DASHBOARD, PROMETHEUS_OWN, RULES, dashboard_queries, metric_names, rules
from prometheus_client import CollectorRegistry

from consumers.metrics import ConsumerMetrics
from ledger.bootstrap import Ledger
from ledger.collector import record_verify_result
from ledger.observability import observe_api_request
from ledger.ops import exposition_registry
from ledger.sample import generate_events
from ledger.store.messages import Message
from projections.service import Projections

RULE_TESTS = sorted((REPO / "deploy" / "prometheus" / "tests").glob("*.yml"))
SCRAPE_CONFIG = REPO / "deploy" / "prometheus" / "prometheus.yml"
RUNBOOK = REPO / "deploy" / "RUNBOOK.md"


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        message = "promtool is missing (Debian package prometheus; scripts/test.sh installs it)"
        if services_required():
            pytest.fail(message)
        pytest.skip(message)
    return found


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_promtool(), *args], cwd=RULES.parent, capture_output=True, text=True, timeout=120, check=False
    )


def test_promtool_accepts_the_alerting_rules():
    done = _run("check", "rules", RULES.name)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_alerting_rules_pass_their_promtool_unit_tests():
    assert RULE_TESTS, "no rule unit tests in deploy/prometheus/tests"
    done = _run("test", "rules", *(str(p.relative_to(RULES.parent)) for p in RULE_TESTS))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_promtool_accepts_the_example_scrape_configuration():
    done = _run("check", "config", SCRAPE_CONFIG.name)
    assert done.returncode == 0, done.stdout + done.stderr


def _anchors(markdown: str) -> set[str]:
    """GitHub's anchors of the headings of a Markdown text."""
    return {
        re.sub(r"[^a-z0-9 _-]", "", heading.strip().lower()).replace(" ", "-")
        for heading in re.findall(r"^#+ (.+)$", markdown, re.MULTILINE)
    }


def test_every_alert_is_named_labelled_annotated_and_in_the_runbook():
    every_rule = rules()
    anchors = _anchors(RUNBOOK.read_text())
    alerts = [r["alert"] for r in every_rule if "alert" in r]
    assert len(alerts) == len(set(alerts))
    for name in [
        "LedgerTargetDown",
        "LedgerConsumerLagHigh",
        "LedgerProjectionLagHigh",
        "LedgerDeadLettersGrowing",
        "LedgerParkedNearGrace",
        "LedgerCheckpointStale",
        "LedgerVerifyFailed",
        "LedgerConservationBroken",
        "LedgerRightsRequestsOverdue",
    ]:
        assert name in alerts, name
    for rule in every_rule:
        name = rule["alert"]
        assert re.fullmatch(r"Ledger([A-Z][a-z0-9]+)+", name), name
        assert rule["labels"]["severity"] in ("critical", "warning", "info"), name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name
        runbook = rule["annotations"].get("runbook_url")
        if rule["labels"]["severity"] == "critical":
            assert runbook, f"{name}: a critical alert needs a runbook_url"
        if runbook:
            page, _, anchor = runbook.partition("#")
            assert page == "deploy/RUNBOOK.md" and anchor in anchors, f"{name}: no section {runbook}"
        assert name.lower() in anchors, f"{name} has no section in deploy/RUNBOOK.md"


def test_the_dashboard_is_grafana_json_with_a_query_in_every_panel():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["title"] and dashboard["uid"]
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert panels
    for panel in panels:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]


def test_the_metric_name_parser_finds_the_metrics_of_an_expression():
    expr = (
        "histogram_quantile(0.95, sum by (route, le) "
        '(rate(ledger_api_request_duration_seconds_bucket{x="a b"}[5m]))) '
        "> max without (instance, job) (ledger_park_grace_seconds offset 30m) and on() up == 0"
    )
    assert metric_names(expr) == {
        "ledger_api_request_duration_seconds_bucket",
        "ledger_park_grace_seconds",
        "up",
    }


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[set[str]]:
    """Every series name consume, project and serve export, collected in-process from their registries
    (on a ledger that has every ledger-wide figure: checkpoints, a recorded verify, views)."""
    tmp = tmp_path_factory.mktemp("exported")
    with ledger_at(f"sqlite:///{tmp / 'l.db'}", tmp / "ledger") as ledger:
        yield _exported_by_every_process(ledger)


def _exported_by_every_process(ledger: Ledger) -> set[str]:
    events = generate_events(seed=9, subjects=4)
    ledger.ingest_messages([Message("t", 0, i, event=e) for i, e in enumerate(events)])
    ledger.checkpoint()
    record_verify_result(ledger.store, ledger.clock(), True, ledger.head_seq())
    projections = Projections(ledger.store, ledger.keys, ledger.codes)
    projections.catch_up()
    observe_api_request("livez", 200, 0.001)
    processes = {
        "consume": exposition_registry(ledger, ConsumerMetrics().registry),
        "project": exposition_registry(ledger, projections.runner.registry),
        "serve": exposition_registry(ledger),
    }
    names: set[str] = set()
    for registry in processes.values():
        names |= _series_names(registry)
    return names


def _series_names(registry: CollectorRegistry) -> set[str]:
    names: set[str] = set()
    for family in registry.collect():
        names.update(s.name for s in family.samples)
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}.get(
            family.type, ("",)
        )
        names.update(family.name + suffix for suffix in suffixes)
    return names


def test_the_alerting_rules_name_only_metrics_the_processes_export(exported: set[str]):
    for rule in rules():
        unknown = metric_names(rule["expr"]) - exported - PROMETHEUS_OWN
        assert not unknown, f"{rule['alert']} reads metrics nothing exports: {sorted(unknown)}"


def test_the_dashboard_queries_name_only_metrics_the_processes_export(exported: set[str]):
    used: set[str] = set()
    for expr in dashboard_queries():
        names = metric_names(expr)
        unknown = names - exported - PROMETHEUS_OWN
        assert not unknown, f"the dashboard reads metrics nothing exports: {sorted(unknown)} in {expr}"
        used |= names
    assert "ledger_ingest_messages_total" in used and "ledger_api_requests_total" in used
