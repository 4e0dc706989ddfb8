"""The work queue: deduplication, one worker per key, delays and per-key backoff."""

from __future__ import annotations

import threading
import time

import pytest

from canaryd.kube import workqueue


def test_key_added_twice_is_processed_once():
    queue = workqueue.WorkQueue()
    queue.add("ns/web")
    queue.add("ns/web")

    assert len(queue) == 1
    assert queue.get(timeout=0.1) == "ns/web"
    assert queue.get(timeout=0.05) is None


def test_key_added_while_processing_returns_after_done():
    queue = workqueue.WorkQueue()
    queue.add("ns/web")
    key = queue.get(timeout=0.1)
    queue.add("ns/web")

    assert queue.get(timeout=0.05) is None, "a key in progress must not go to a second worker"
    queue.done(key)
    assert queue.get(timeout=0.1) == "ns/web"


def test_add_after_waits_for_the_delay():
    queue = workqueue.WorkQueue()
    started = time.monotonic()
    queue.add_after("ns/web", 0.2)

    assert queue.get(timeout=0.05) is None
    assert queue.get(timeout=1.0) == "ns/web"
    assert time.monotonic() - started >= 0.19


@pytest.mark.parametrize(
    ("failures", "expected_delay"),
    [(0, 0.5), (1, 1.0), (3, 4.0), (20, 300.0)],
    ids=["first", "second", "fourth", "capped"],
)
def test_rate_limited_delay_doubles_per_failure(failures, expected_delay):
    queue = workqueue.WorkQueue(base_delay=0.5, max_delay=300.0)
    for _ in range(failures):
        queue.add_rate_limited("ns/web")

    assert queue.add_rate_limited("ns/web") == expected_delay


def test_forget_resets_the_backoff():
    queue = workqueue.WorkQueue(base_delay=0.5)
    queue.add_rate_limited("ns/web")
    queue.add_rate_limited("ns/web")
    queue.forget("ns/web")

    assert queue.failures("ns/web") == 0
    assert queue.add_rate_limited("ns/web") == 0.5


def test_get_wakes_up_for_a_key_added_by_another_thread():
    queue = workqueue.WorkQueue()
    threading.Timer(0.05, queue.add, args=("ns/web",)).start()

    assert queue.get(timeout=2.0) == "ns/web"


def test_shut_down_ends_a_waiting_get():
    queue = workqueue.WorkQueue()
    threading.Timer(0.05, queue.shut_down).start()

    with pytest.raises(workqueue.ShutDown):
        queue.get(timeout=2.0)
