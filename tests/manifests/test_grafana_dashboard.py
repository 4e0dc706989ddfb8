"""The Grafana dashboard in manifests/grafana: valid PromQL, and only metrics canaryd really exports."""

from __future__ import annotations

import json
import pathlib
import re

import promql_parser
import pytest

from canaryd.notify import webhook
from canaryd.observability import metrics

DASHBOARD = pathlib.Path(__file__).resolve().parents[2] / "manifests" / "grafana" / "canaryd-dashboard.json"

# Grafana replaces these before sending a query; any valid value makes the query parseable here.
_VARIABLES = {"$__rate_interval": "1m", "$namespace": "shop", "$deployment": "web", "$job": "canaryd"}


def load_dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def queries() -> list[tuple[str, str]]:
    """Return (panel title, expression) for every query of every panel."""
    found = []
    for panel in load_dashboard()["panels"]:
        for target in panel.get("targets", []):
            found.append((panel["title"], target["expr"]))
    return found


def exported_series_names() -> set[str]:
    """Return every sample name the controller's registry exposes, with notification metrics registered."""
    controller = metrics.ControllerMetrics()
    webhook.NotificationMetrics(registry=controller.registry)
    names = set()
    for family in controller.registry.collect():
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        if family.type == "counter":
            names.add(family.name + "_total")
        if family.type == "histogram":
            names.update(family.name + suffix for suffix in ("_bucket", "_count", "_sum"))
    return names


def substitute(expression: str) -> str:
    for variable, value in _VARIABLES.items():
        expression = expression.replace(variable, value)
    return expression


@pytest.mark.parametrize(
    ("title", "expression"), queries(), ids=[f"{title}-{expr[:30]}" for title, expr in queries()]
)
def test_dashboard_query_parses(title: str, expression: str) -> None:
    substituted = substitute(expression)

    assert "$" not in substituted, f"panel {title!r} uses a variable the dashboard does not define"
    promql_parser.parse(substituted)


def test_dashboard_uses_only_exported_canaryd_metrics() -> None:
    exported = exported_series_names()
    used = {
        name
        for _, expression in queries()
        for name in re.findall(r"\b(canaryd_[a-z_]+|process_[a-z_]+)", expression)
    }

    assert used, "the dashboard queries no canaryd metric"
    assert used - exported == set()


def test_dashboard_panel_ids_are_unique() -> None:
    ids = [panel["id"] for panel in load_dashboard()["panels"]]

    assert len(ids) == len(set(ids))


def test_dashboard_variables_cover_every_use() -> None:
    dashboard = load_dashboard()
    defined = {variable["name"] for variable in dashboard["templating"]["list"]}
    text = DASHBOARD.read_text()
    used = set(re.findall(r"\$\{?([a-z]+)\}?", text))

    assert used - defined == set()


def test_dashboard_panels_do_not_overlap() -> None:
    occupied: set[tuple[int, int]] = set()
    for panel in load_dashboard()["panels"]:
        grid = panel["gridPos"]
        cells = {(grid["x"] + dx, grid["y"] + dy) for dx in range(grid["w"]) for dy in range(grid["h"])}
        assert not cells & occupied, f"panel {panel['title']!r} overlaps another"
        assert grid["x"] + grid["w"] <= 24
        occupied |= cells
