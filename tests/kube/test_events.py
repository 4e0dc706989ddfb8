"""The Event recorder: repeats are skipped, Events are posted in the background and flushed on close."""

from __future__ import annotations

from canaryd.kube import api as kube_api
from canaryd.kube import events


class RecordingApi:
    """Collects the Events a recorder posts, in place of the API server."""

    def __init__(self, failures: int = 0) -> None:
        self.created: list[dict] = []
        self.failures = failures

    def create(self, resource, *, namespace, body):
        if self.failures:
            self.failures -= 1
            raise kube_api.ApiException(status=500, reason="etcd timeout")
        self.created.append(body)
        return body


DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "shop", "uid": "u1"},
}


def test_repeated_event_is_posted_once():
    api = RecordingApi()
    recorder = events.EventRecorder(api=api, instance="r0")

    first = recorder.record(DEPLOYMENT, type=events.EventType.NORMAL, reason="RolloutStarted", message="m")
    second = recorder.record(DEPLOYMENT, type=events.EventType.NORMAL, reason="RolloutStarted", message="m")
    recorder.close()

    assert first is True
    assert second is False
    assert [event["reason"] for event in api.created] == ["RolloutStarted"]
    assert api.created[0]["involvedObject"]["uid"] == "u1"
    assert api.created[0]["reportingInstance"] == "r0"


def test_changed_event_is_posted_again():
    api = RecordingApi()
    recorder = events.EventRecorder(api=api, instance="r0")
    for reason in ("Analysing", "StepPassed", "Analysing"):
        recorder.record(DEPLOYMENT, type=events.EventType.NORMAL, reason=reason, message="m")
    recorder.close()

    assert [event["reason"] for event in api.created] == ["Analysing", "StepPassed", "Analysing"]


def test_failed_post_lets_the_repeat_through():
    api = RecordingApi(failures=1)
    recorder = events.EventRecorder(api=api, instance="r0")
    recorder.record(DEPLOYMENT, type=events.EventType.WARNING, reason="AnalysisFailed", message="m")
    recorder.close()
    recorder.record(DEPLOYMENT, type=events.EventType.WARNING, reason="AnalysisFailed", message="m")
    recorder.close()

    assert [event["reason"] for event in api.created] == ["AnalysisFailed"]
