"""Notifications from the real controller: `canaryd run` on the test control plane rolls a bad release
back, and a webhook receiver on 127.0.0.1 gets the messages, configured only through the controller's
environment."""

from __future__ import annotations

import pytest

from canaryd.notify import config
from tests.controller import support
from tests.controller.conftest import bootstrapped, rig  # noqa: F401 -- the controller rig's fixtures
from tests.notify import receiver as receiver_module

pytestmark = pytest.mark.cluster


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch):
    """A receiver whose URL the controller process inherits through CANARYD_NOTIFY_WEBHOOK_URL."""
    with receiver_module.Receiver() as receiver:
        monkeypatch.setenv(config.URL_VARIABLE, receiver.url)
        yield receiver


def test_controller_notifies_start_and_rollback(webhook: receiver_module.Receiver, bootstrapped) -> None:  # noqa: F811
    controller_rig = bootstrapped
    controller_rig.set_image("example.invalid/web:bad")

    controller_rig.wait_for_phase(1, {"Failed", "Succeeded", "Aborted"})
    support.wait_for(
        lambda: any(body["kind"] == "rolled_back" for body in webhook.bodies),
        timeout=30,
        message="a rolled_back notification",
    )

    kinds = [body["kind"] for body in webhook.bodies]
    assert kinds[0] == "started"
    assert kinds.count("rolled_back") == 1
    assert "promoted" not in kinds
    rollback = next(body for body in webhook.bodies if body["kind"] == "rolled_back")
    assert rollback["namespace"] == controller_rig.namespace
    assert (rollback["deployment"], rollback["rollout"]) == ("web", "web-1")
    assert rollback["verdict"] == "fail"
    error_ratio = next(metric for metric in rollback["metrics"] if metric["metric"] == "error_ratio")
    assert error_ratio["verdict"] == "fail"
    assert error_ratio["canary_samples"] > 0
    sent = 'canaryd_notifications_sent_total{destination="env",kind="rolled_back"} 1.0'
    assert sent in controller_rig.controller.metrics()
