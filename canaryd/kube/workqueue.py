"""A work queue of object keys: deduplicated, one worker per key at a time, delayed and rate-limited adds.

Layer 2. The same contract as client-go's workqueue, which Kubernetes controllers are built on:

- a key added several times before a worker takes it is processed once (level-triggered: the worker
  reads the latest state from the caches, not the event that woke it);
- a key being processed is never handed to a second worker; adding it meanwhile marks it dirty, and
  it is queued again when the first worker calls `done`;
- `add_rate_limited` delays a failing key exponentially (per key, capped) until `forget` resets it;
- `add_after` schedules a key for later, which is how a rollout waits out an analysis window
  without a polling loop.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import threading
import time


class ShutDown(Exception):
    """Raised by `get` once the queue is shut down and empty."""


class WorkQueue:
    """Keys waiting for a worker, with per-key exponential backoff for failures."""

    def __init__(self, *, base_delay: float = 0.5, max_delay: float = 300.0) -> None:
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._queue: collections.deque[str] = collections.deque()
        self._dirty: set[str] = set()
        self._processing: set[str] = set()
        self._waiting: list[tuple[float, int, str]] = []  # heap of (due, sequence, key)
        self._sequence = itertools.count()
        self._failures: dict[str, int] = collections.defaultdict(int)
        self._condition = threading.Condition()
        self._shutting_down = False

    def add(self, key: str) -> None:
        with self._condition:
            self._add_locked(key)

    def add_after(self, key: str, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        with self._condition:
            heapq.heappush(self._waiting, (time.monotonic() + delay, next(self._sequence), key))
            self._condition.notify()

    def add_rate_limited(self, key: str) -> float:
        """Queue `key` after its next backoff delay and return that delay in seconds."""
        with self._condition:
            failures = self._failures[key]
            self._failures[key] = failures + 1
        delay = min(self._max_delay, self._base_delay * (2**failures))
        self.add_after(key, delay)
        return delay

    def forget(self, key: str) -> None:
        """Reset `key`'s backoff after it was processed successfully."""
        with self._condition:
            self._failures.pop(key, None)

    def failures(self, key: str) -> int:
        with self._condition:
            return self._failures.get(key, 0)

    def get(self, timeout: float | None = None) -> str | None:
        """Take the next key, waiting up to `timeout` seconds; None when nothing came in time."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._condition:
            while True:
                self._move_due_locked()
                if self._queue:
                    key = self._queue.popleft()
                    self._dirty.discard(key)
                    self._processing.add(key)
                    return key
                if self._shutting_down:
                    raise ShutDown()
                if deadline is not None and deadline <= time.monotonic():
                    return None
                self._condition.wait(self._next_wait_locked(deadline))

    def done(self, key: str) -> None:
        with self._condition:
            self._processing.discard(key)
            if key in self._dirty:
                self._queue.append(key)
                self._condition.notify()

    def shut_down(self) -> None:
        with self._condition:
            self._shutting_down = True
            self._condition.notify_all()

    def __len__(self) -> int:
        """Keys ready for a worker now (the queue depth); delayed keys are not counted."""
        with self._condition:
            self._move_due_locked()
            return len(self._queue)

    def delayed_count(self) -> int:
        with self._condition:
            return len(self._waiting)

    # Internals; the caller holds the condition's lock.

    def _add_locked(self, key: str) -> None:
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        if key not in self._processing:
            self._queue.append(key)
            self._condition.notify()

    def _move_due_locked(self) -> None:
        now = time.monotonic()
        while self._waiting and self._waiting[0][0] <= now:
            _, _, key = heapq.heappop(self._waiting)
            self._add_locked(key)

    def _next_wait_locked(self, deadline: float | None) -> float | None:
        now = time.monotonic()
        candidates = []
        if self._waiting:
            candidates.append(self._waiting[0][0] - now)
        if deadline is not None:
            candidates.append(deadline - now)
        return max(0.001, min(candidates)) if candidates else None
