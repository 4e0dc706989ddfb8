"""The webhook sink against a real HTTP receiver on 127.0.0.1: payloads, slow and failing receivers."""

from __future__ import annotations

import dataclasses
import itertools
import time

import prometheus_client
import pytest

from canaryd.notify import config, notification, notifier, webhook
from tests.notify import receiver as receiver_module

_names = itertools.count()


@pytest.fixture
def registry() -> prometheus_client.CollectorRegistry:
    return prometheus_client.CollectorRegistry()


@pytest.fixture
def metrics(registry: prometheus_client.CollectorRegistry) -> webhook.NotificationMetrics:
    return webhook.NotificationMetrics(registry=registry)


def destination(url: str, **overrides: object) -> config.WebhookDestination:
    fields = {"name": f"test-{next(_names)}", "url": url, "timeout_seconds": 0.5, "backoff_seconds": 0.05}
    fields.update(overrides)
    return config.WebhookDestination.model_validate(fields)


def counter(registry: prometheus_client.CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def wait_until(predicate, *, timeout_seconds: float) -> bool:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_receiver_gets_generic_payload(
    registry: prometheus_client.CollectorRegistry,
    metrics: webhook.NotificationMetrics,
    rolled_back: notification.Notification,
) -> None:
    with receiver_module.Receiver() as receiver:
        target = destination(receiver.url)
        sink = webhook.WebhookSink(destination=target, metrics=metrics)
        sink.send(rolled_back)

        assert receiver.wait_for_requests(1, timeout_seconds=5) == 1
        sink.close(timeout_seconds=2)

    body = receiver.bodies[0]
    assert body["kind"] == "rolled_back"
    assert body["deployment"] == "web"
    assert body["metrics"][0]["effect"] == 0.039
    assert (
        counter(registry, "canaryd_notifications_sent_total", destination=target.name, kind="rolled_back")
        == 1
    )


def test_receiver_gets_slack_payload(
    registry: prometheus_client.CollectorRegistry,
    metrics: webhook.NotificationMetrics,
    rolled_back: notification.Notification,
) -> None:
    with receiver_module.Receiver() as receiver:
        sink = webhook.WebhookSink(metrics=metrics, destination=destination(receiver.url, format="slack"))
        sink.send(rolled_back)

        assert receiver.wait_for_requests(1, timeout_seconds=5) == 1
        sink.close(timeout_seconds=2)

    assert receiver.bodies[0]["text"].startswith("shop/web rolled back")
    assert receiver.bodies[0]["blocks"][0]["type"] == "header"


def test_notifier_sends_only_requested_kinds(
    registry: prometheus_client.CollectorRegistry,
    rolled_back: notification.Notification,
) -> None:
    started = dataclasses.replace(rolled_back, kind=notification.NotificationKind.STARTED, judgement=None)
    with receiver_module.Receiver() as everything, receiver_module.Receiver() as rollbacks_only:
        fan_out = notifier.Notifier(
            destinations=[
                destination(everything.url),
                destination(rollbacks_only.url, kinds=["rolled_back"]),
            ],
            registry=registry,
        )
        fan_out.notify(started)
        fan_out.notify(rolled_back)

        assert everything.wait_for_requests(2, timeout_seconds=5) == 2
        assert rollbacks_only.wait_for_requests(1, timeout_seconds=5) == 1
        fan_out.close(timeout_seconds=2)

    assert [body["kind"] for body in everything.bodies] == ["started", "rolled_back"]
    assert [body["kind"] for body in rollbacks_only.bodies] == ["rolled_back"]


def test_slow_receiver_does_not_block_the_caller(
    registry: prometheus_client.CollectorRegistry,
    metrics: webhook.NotificationMetrics,
    rolled_back: notification.Notification,
) -> None:
    slow = [receiver_module.Reply(delay_seconds=3)]
    with receiver_module.Receiver(replies=slow) as receiver:
        target = destination(receiver.url, timeout_seconds=0.3, max_attempts=2)
        sink = webhook.WebhookSink(destination=target, metrics=metrics)

        started = time.monotonic()
        for _ in range(20):
            sink.send(rolled_back)
        elapsed = time.monotonic() - started

        assert elapsed < 0.1, f"20 sends took {elapsed:.3f}s; sending must only queue"
        sink.close(timeout_seconds=1)

    assert (
        counter(registry, "canaryd_notifications_failed_total", destination=target.name, kind="rolled_back")
        >= 1
    )
    assert (
        counter(registry, "canaryd_notifications_sent_total", destination=target.name, kind="rolled_back")
        == 0
    )


def test_slow_receiver_times_out_each_call(
    registry: prometheus_client.CollectorRegistry,
    metrics: webhook.NotificationMetrics,
    rolled_back: notification.Notification,
) -> None:
    slow = [receiver_module.Reply(delay_seconds=3)]
    with receiver_module.Receiver(replies=slow) as receiver:
        target = destination(receiver.url, timeout_seconds=0.3, max_attempts=2, backoff_seconds=0)
        sink = webhook.WebhookSink(destination=target, metrics=metrics)
        sink.send(rolled_back)

        # Two attempts of 0.3 s each end well before the receiver's 3 s reply.
        failed = wait_until(
            lambda: (
                counter(
                    registry,
                    "canaryd_notifications_failed_total",
                    destination=target.name,
                    kind="rolled_back",
                )
                == 1
            ),
            timeout_seconds=2,
        )
        sink.close(timeout_seconds=1)

    assert failed
    assert receiver.wait_for_requests(2, timeout_seconds=0) == 2
    assert counter(registry, "canaryd_notification_retries_total", destination=target.name) == 1


def test_failing_receiver_retries_are_bounded(
    registry: prometheus_client.CollectorRegistry,
    metrics: webhook.NotificationMetrics,
    rolled_back: notification.Notification,
) -> None:
    with receiver_module.Receiver(replies=[receiver_module.Reply(status=503)]) as receiver:
        target = destination(receiver.url, max_attempts=3)
        sink = webhook.WebhookSink(destination=target, metrics=metrics)
        sink.send(rolled_back)

        failed = wait_until(
            lambda: (
                counter(
                    registry,
                    "canaryd_notifications_failed_total",
                    destination=target.name,
                    kind="rolled_back",
                )
                == 1
            ),
            timeout_seconds=5,
        )
        time.sleep(0.3)  # room for a wrong fourth attempt to show up
        sink.close(timeout_seconds=1)

    assert failed
    assert len(receiver.bodies) == 3
    assert counter(registry, "canaryd_notification_retries_total", destination=target.name) == 2


def test_retry_waits_grow_with_backoff(
    registry: prometheus_client.CollectorRegistry,
    metrics: webhook.NotificationMetrics,
    rolled_back: notification.Notification,
) -> None:
    with receiver_module.Receiver(replies=[receiver_module.Reply(status=500)]) as receiver:
        sink = webhook.WebhookSink(
            metrics=metrics, destination=destination(receiver.url, max_attempts=3, backoff_seconds=0.2)
        )
        sink.send(rolled_back)

        assert receiver.wait_for_requests(3, timeout_seconds=5) == 3
        sink.close(timeout_seconds=1)

    first_wait = receiver.request_times[1] - receiver.request_times[0]
    second_wait = receiver.request_times[2] - receiver.request_times[1]
    assert first_wait >= 0.2
    assert second_wait >= 0.4


def test_receiver_recovering_gets_the_notification(
    registry: prometheus_client.CollectorRegistry,
    metrics: webhook.NotificationMetrics,
    rolled_back: notification.Notification,
) -> None:
    replies = [
        receiver_module.Reply(status=500),
        receiver_module.Reply(status=429),
        receiver_module.Reply(status=204),
    ]
    with receiver_module.Receiver(replies=replies) as receiver:
        target = destination(receiver.url, max_attempts=3)
        sink = webhook.WebhookSink(destination=target, metrics=metrics)
        sink.send(rolled_back)

        assert receiver.wait_for_requests(3, timeout_seconds=5) == 3
        sent = wait_until(
            lambda: (
                counter(
                    registry, "canaryd_notifications_sent_total", destination=target.name, kind="rolled_back"
                )
                == 1
            ),
            timeout_seconds=2,
        )
        sink.close(timeout_seconds=1)

    assert sent
    assert (
        counter(registry, "canaryd_notifications_failed_total", destination=target.name, kind="rolled_back")
        == 0
    )


@pytest.mark.parametrize("status", [400, 404, 302], ids=["bad-request", "not-found", "redirect"])
def test_client_errors_are_not_retried(
    registry: prometheus_client.CollectorRegistry,
    metrics: webhook.NotificationMetrics,
    rolled_back: notification.Notification,
    status: int,
) -> None:
    with receiver_module.Receiver(replies=[receiver_module.Reply(status=status)]) as receiver:
        target = destination(receiver.url, max_attempts=3)
        sink = webhook.WebhookSink(destination=target, metrics=metrics)
        sink.send(rolled_back)

        failed = wait_until(
            lambda: (
                counter(
                    registry,
                    "canaryd_notifications_failed_total",
                    destination=target.name,
                    kind="rolled_back",
                )
                == 1
            ),
            timeout_seconds=5,
        )
        time.sleep(0.3)
        sink.close(timeout_seconds=1)

    assert failed
    assert len(receiver.bodies) == 1
    assert counter(registry, "canaryd_notification_retries_total", destination=target.name) == 0


def test_unreachable_receiver_is_counted_as_failed(
    registry: prometheus_client.CollectorRegistry,
    metrics: webhook.NotificationMetrics,
    rolled_back: notification.Notification,
) -> None:
    # Start and stop a receiver to get a loopback port that nothing listens on.
    with receiver_module.Receiver() as receiver:
        url = receiver.url
    target = destination(url, max_attempts=2)
    sink = webhook.WebhookSink(destination=target, metrics=metrics)
    sink.send(rolled_back)

    failed = wait_until(
        lambda: (
            counter(
                registry, "canaryd_notifications_failed_total", destination=target.name, kind="rolled_back"
            )
            == 1
        ),
        timeout_seconds=5,
    )
    sink.close(timeout_seconds=1)

    assert failed
    assert counter(registry, "canaryd_notification_retries_total", destination=target.name) == 1


def test_full_queue_drops_and_counts(
    registry: prometheus_client.CollectorRegistry,
    metrics: webhook.NotificationMetrics,
    rolled_back: notification.Notification,
) -> None:
    slow = [receiver_module.Reply(delay_seconds=2)]
    with receiver_module.Receiver(replies=slow) as receiver:
        target = destination(receiver.url, queue_size=2, timeout_seconds=3, max_attempts=1)
        sink = webhook.WebhookSink(destination=target, metrics=metrics)

        # The worker takes the first notification and waits on the receiver; two more fill the queue.
        sink.send(rolled_back)
        assert receiver.wait_for_requests(1, timeout_seconds=5) == 1
        for _ in range(5):
            sink.send(rolled_back)
        sink.close(timeout_seconds=0.2)

    assert counter(registry, "canaryd_notifications_dropped_total", destination=target.name) == 3


def test_close_is_bounded_by_its_timeout(
    registry: prometheus_client.CollectorRegistry,
    metrics: webhook.NotificationMetrics,
    rolled_back: notification.Notification,
) -> None:
    slow = [receiver_module.Reply(delay_seconds=3)]
    with receiver_module.Receiver(replies=slow) as receiver:
        sink = webhook.WebhookSink(
            metrics=metrics, destination=destination(receiver.url, timeout_seconds=5, max_attempts=3)
        )
        sink.send(rolled_back)
        assert receiver.wait_for_requests(1, timeout_seconds=5) == 1

        started = time.monotonic()
        sink.close(timeout_seconds=0.5)
        elapsed = time.monotonic() - started

    assert elapsed < 1.0


def test_send_after_close_is_dropped(
    registry: prometheus_client.CollectorRegistry,
    metrics: webhook.NotificationMetrics,
    rolled_back: notification.Notification,
) -> None:
    with receiver_module.Receiver() as receiver:
        target = destination(receiver.url)
        sink = webhook.WebhookSink(destination=target, metrics=metrics)
        sink.close(timeout_seconds=1)
        sink.send(rolled_back)

    assert receiver.bodies == []
    assert counter(registry, "canaryd_notifications_dropped_total", destination=target.name) == 1


def test_notifier_sends_a_status_change(registry: prometheus_client.CollectorRegistry) -> None:
    from tests.notify import test_transitions as cases

    before = cases.status(cases.Phase.HOLDING, cases.step(0, 1, cases.PASS), cases.step(1, 5))
    after = cases.status(
        cases.Phase.ROLLING_BACK, cases.step(0, 1, cases.PASS), cases.step(1, 5, cases.FAIL), desired_weight=0
    )
    with receiver_module.Receiver() as receiver:
        fan_out = notifier.Notifier(destinations=[destination(receiver.url)], registry=registry)
        fan_out.notify_transition(
            before=before, after=after, namespace="shop", deployment="web", rollout="web-1", step_count=2,
            occurred_at=cases.NOW,
        )  # fmt: skip

        assert receiver.wait_for_requests(1, timeout_seconds=5) == 1
        fan_out.close(timeout_seconds=2)

    body = receiver.bodies[0]
    assert (body["kind"], body["step"], body["weight"], body["verdict"]) == ("rolled_back", 2, 5, "fail")
