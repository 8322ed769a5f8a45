"""What the monitoring configuration in deploy/ reads: the alerting rules, the dashboard's queries and the
metric names a PromQL expression uses (shared by the in-process check and the scrape of running processes)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
RULES = REPO / "deploy" / "prometheus" / "ledger-rules.yml"
DASHBOARD = REPO / "deploy" / "grafana" / "ledger.json"
# Metrics of Prometheus itself that the rules and the dashboard may use.
PROMETHEUS_OWN = frozenset({"up"})


def rules() -> list[dict[str, Any]]:
    """Every rule of deploy/prometheus/ledger-rules.yml."""
    doc = yaml.safe_load(RULES.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def dashboard_queries() -> list[str]:
    """The PromQL expression of every panel target of the Grafana dashboard."""
    dashboard = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads, loosely: identifiers outside strings and label
    matchers, that are not followed by ``(`` (a function or aggregation), minus PromQL's words."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    words = {"and", "or", "unless", "offset", "bool", "inf", "nan"}
    names = set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", text))
    return {n for n in names if n.lower() not in words and not re.fullmatch(r"\d+[smhdwy]?", n)}


def used_metrics() -> dict[str, set[str]]:
    """Each metric the rules and the dashboard read, with where (alert names, "dashboard")."""
    used: dict[str, set[str]] = {}
    for rule in rules():
        for name in metric_names(rule["expr"]):
            used.setdefault(name, set()).add(rule.get("alert") or rule.get("record") or "a rule")
    for expr in dashboard_queries():
        for name in metric_names(expr):
            used.setdefault(name, set()).add("dashboard")
    return {name: where for name, where in used.items() if name not in PROMETHEUS_OWN}
