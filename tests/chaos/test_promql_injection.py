"""Hostile metric templates against real Prometheus: confinement must hide every other namespace.

Two real Prometheus servers answer each query at the same instant: one scrapes a service in the victim
namespace, the other scrapes nothing. A template of namespace `shop` is rendered and confined; the
confined query must return exactly the same on both servers, so its answer cannot depend on the victim's
series. As a check that the attempts are real, many of the same templates, run without confinement, do
return different answers on the two servers.
"""

from __future__ import annotations

import collections
import json
import pathlib
import random
import time

import httpx
import pytest

from canaryd import observations
from canaryd.metrics import outcomes, protocol, templates
from tests.chaos import injection, scale
from tests.harness import prometheus as harness_prometheus
from tests.harness.fixtures import prometheus_binary  # noqa: F401 - fixture

pytestmark = [pytest.mark.chaos, pytest.mark.prometheus]

TARGET = protocol.ArmTarget(arm=observations.Arm.CANARY, namespace="shop", workload="web")
STEP_SECONDS = 30.0


class Evaluator:
    """Runs instant queries at one fixed time on one server and returns a comparable result."""

    def __init__(self, *, url: str, at: float) -> None:
        self.client = httpx.Client(base_url=url, timeout=20.0)
        self.at = at

    def answer(self, query: str) -> str:
        response = self.client.post("/api/v1/query", data={"query": query, "time": f"{self.at:.3f}"})
        body = response.json()
        if body.get("status") != "success":
            return f"error {response.status_code} {body.get('errorType')}"
        data = body["data"]
        result = data["result"]
        if data["resultType"] in ("vector", "matrix"):
            result = sorted(json.dumps(item, sort_keys=True) for item in result)
        return json.dumps({"type": data["resultType"], "result": result}, sort_keys=True)


@pytest.fixture
def servers(tmp_path: pathlib.Path, prometheus_binary):  # noqa: F811 - fixture
    """(victim server, empty server), both evaluating at a time the victim's series exist."""
    (tmp_path / "victim").mkdir()
    (tmp_path / "empty").mkdir()
    with harness_prometheus.harness(tmp_path / "victim") as victim_harness:
        app = victim_harness.start_app(namespace=injection.VICTIM, workload="vault")
        victim_harness.start_load([app], rate_per_second=20.0)
        victim = victim_harness.start_prometheus()
        victim.wait_for_samples(f'http_requests_total{{namespace="{injection.VICTIM}"}}')
        empty = harness_prometheus.PrometheusServer(workdir=tmp_path / "empty", targets=[])
        empty.start()
        try:
            time.sleep(3 * harness_prometheus.SCRAPE_INTERVAL_SECONDS)
            at = time.time() - 1.0
            yield Evaluator(url=victim.url, at=at), Evaluator(url=empty.url, at=at)
        finally:
            empty.stop()


def _confine(text: str) -> str | None:
    template = templates.MetricTemplate(
        kind=templates.TemplateKind.METRIC_TEMPLATE,
        name="sli",
        namespace=TARGET.namespace,
        spec=templates.MetricTemplateSpec(requests=text, errors="sum(increase(x[{{ interval }}]))"),
    )
    try:
        return (
            templates.TemplatePreset(template=template)
            .queries(target=TARGET, step_seconds=STEP_SECONDS)
            .requests
        )
    except outcomes.TemplateRejected:
        return None


def _render_unconfined(text: str) -> str | None:
    try:
        return templates.render(text, target=TARGET, step_seconds=STEP_SECONDS, where="test")
    except outcomes.TemplateRejected:
        return None


def test_confined_templates_never_read_other_namespace(servers):
    victim, empty = servers
    rng = random.Random(scale.seed())
    count = scale.current().promql_templates
    tally: collections.Counter[str] = collections.Counter()

    for number in range(count):
        text = injection.template_text(rng)
        context = f"template {number} (seed {scale.seed()}): {text!r}"
        try:
            confined = _confine(text)
        except Exception as error:  # noqa: BLE001 - any other exception is the crash under test
            pytest.fail(f"confinement raised {type(error).__name__}: {error}; {context}")

        unconfined = _render_unconfined(text)
        reads_victim = unconfined is not None and victim.answer(unconfined) != empty.answer(unconfined)
        tally["reads victim unconfined"] += reads_victim

        if confined is None:
            tally["rejected"] += 1
            continue
        tally["confined"] += 1
        tally["confined, reads victim unconfined"] += reads_victim
        on_victim = victim.answer(confined)
        on_empty = empty.answer(confined)
        if on_victim.startswith("error"):
            tally["confined but invalid for Prometheus"] += 1
        assert on_victim == on_empty, (
            f"confined query {confined!r} read the victim: {on_victim:.500}; {context}"
        )

    # The attempts must be real ones, and the generator must produce both outcomes.
    assert tally["reads victim unconfined"] >= count // 4, tally
    assert tally["confined, reads victim unconfined"] >= count // 10, tally
    assert tally["rejected"] >= count // 10, tally
    print(f"promql injection tally: {dict(tally)}")
