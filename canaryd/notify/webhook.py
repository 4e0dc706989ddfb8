"""Send notifications to one webhook from a background thread, never delaying the caller.

Part of `canaryd.notify` (layer 2). `WebhookSink.send` only puts the notification on a bounded
queue and returns. A worker thread posts it with a per-call timeout and a bounded number of
retries. When the queue is full the notification is dropped and counted, so a receiver that is
down or slow costs the controller a counter increment, not a stalled reconcile.
"""

from __future__ import annotations

import queue
import threading

import httpx
import prometheus_client
import structlog

from canaryd.notify import config, notification, payloads

_log = structlog.get_logger(__name__)

_STOP = object()  # queue marker that makes the worker return
_IDLE_CHECK_SECONDS = 0.5  # how often an idle worker checks whether close() was called without a marker


class _RetryableError(Exception):
    """A call failed in a way that another attempt may fix (timeout, connection error, 429, 5xx)."""


class _PermanentError(Exception):
    """A call failed in a way that repeating it will not fix (a 4xx other than 429, a redirect)."""


class NotificationMetrics:
    """The notification counters, registered on the controller's registry so `/metrics` shows them."""

    def __init__(self, *, registry: prometheus_client.CollectorRegistry) -> None:
        self.sent = prometheus_client.Counter(
            "canaryd_notifications_sent",
            "Notifications a webhook receiver accepted (2xx).",
            ["destination", "kind"],
            registry=registry,
        )
        self.failed = prometheus_client.Counter(
            "canaryd_notifications_failed",
            "Notifications given up on after the last attempt failed.",
            ["destination", "kind"],
            registry=registry,
        )
        self.retried = prometheus_client.Counter(
            "canaryd_notification_retries",
            "Webhook calls repeated after a timeout, a connection error, a 429 or a 5xx response.",
            ["destination"],
            registry=registry,
        )
        self.dropped = prometheus_client.Counter(
            "canaryd_notifications_dropped",
            "Notifications dropped unsent because the destination's queue was full or the sink was closed.",
            ["destination"],
            registry=registry,
        )
        self.queued = prometheus_client.Gauge(
            "canaryd_notification_queue_depth",
            "Notifications waiting to be sent.",
            ["destination"],
            registry=registry,
        )


class WebhookSink:
    """One destination: a bounded queue drained by one daemon thread."""

    # LIMITATION: the queue lives in memory, so notifications not yet sent when the controller process
    # dies are lost, and a newly elected leader does not resend them (goes away when pending
    # notifications are recorded in the CanaryRollout status and sent from there).

    def __init__(self, *, destination: config.WebhookDestination, metrics: NotificationMetrics) -> None:
        self.destination = destination
        self._metrics = metrics
        self._queue: queue.Queue[object] = queue.Queue(maxsize=destination.queue_size)
        self._closing = threading.Event()  # set by close(): accept no more notifications
        self._abandoned = threading.Event()  # set when close() timed out: drop the rest, retry nothing
        self._dropped = 0
        self._client = httpx.Client(
            timeout=httpx.Timeout(destination.timeout_seconds),
            # A redirect could lead to an address the platform team never configured.
            follow_redirects=False,
            headers={"User-Agent": "canaryd-notifier"},
        )
        self._worker = threading.Thread(
            target=self._drain, name=f"canaryd-webhook-{destination.name}", daemon=True
        )
        self._worker.start()

    def send(self, message: notification.Notification) -> None:
        """Queue a notification for sending, or drop and count it when the queue is full.

        It never waits for the receiver: `put_nowait` on the bounded queue returns at once.
        """
        if message.kind not in self.destination.kinds:
            return
        if self._closing.is_set():
            self._drop(message, cause="sink_closed")
            return
        try:
            self._queue.put_nowait(message)
        except queue.Full:
            self._drop(message, cause="queue_full")
            return
        self._metrics.queued.labels(self.destination.name).set(self._queue.qsize())

    def close(self, *, timeout_seconds: float) -> None:
        """Send what is queued until the timeout passes, then drop the rest and stop.

        A call in flight at the deadline still runs to its own timeout, in the background.
        """
        self._closing.set()
        try:
            self._queue.put_nowait(_STOP)  # wakes an idle worker at once
        except queue.Full:
            pass  # the worker checks `_closing` once the queue is empty
        self._worker.join(timeout=timeout_seconds)

        if self._worker.is_alive():
            self._abandoned.set()
            _log.warning(
                "notification_sink_close_timed_out",
                destination=self.destination.name,
                queued=self._queue.qsize(),
            )

    def _drain(self) -> None:
        try:
            while True:
                try:
                    item = self._queue.get(timeout=_IDLE_CHECK_SECONDS)
                except queue.Empty:
                    if self._closing.is_set():
                        return
                    continue
                self._metrics.queued.labels(self.destination.name).set(self._queue.qsize())

                if item is _STOP:
                    return
                assert isinstance(item, notification.Notification)
                if self._abandoned.is_set():
                    self._drop(item, cause="sink_closed")
                else:
                    self._deliver_guarded(item)
        finally:
            self._client.close()

    def _deliver_guarded(self, message: notification.Notification) -> None:
        # An unexpected error (a bug, a body that does not serialize) must not end the worker thread,
        # or every later notification to this destination would queue up and be dropped unnoticed.
        try:
            self._deliver(message)
        except Exception:
            self._metrics.failed.labels(self.destination.name, message.kind.value).inc()
            _log.exception(
                "notification_failed",
                destination=self.destination.name,
                kind=message.kind.value,
                namespace=message.namespace,
                rollout=message.rollout,
            )

    def _deliver(self, message: notification.Notification) -> None:
        name = self.destination.name
        log = _log.bind(
            destination=name,
            kind=message.kind.value,
            namespace=message.namespace,
            rollout=message.rollout,
            revision=message.revision,
            step=message.step,
            weight=message.weight,
        )
        body = payloads.render(payload_format=self.destination.payload_format, notification=message)

        for attempt in range(1, self.destination.max_attempts + 1):
            try:
                self._post(body)
            except _RetryableError as error:
                if attempt == self.destination.max_attempts or not self._wait_before_retry(attempt):
                    self._metrics.failed.labels(name, message.kind.value).inc()
                    log.warning("notification_failed", attempts=attempt, error=str(error))
                    return
                self._metrics.retried.labels(name).inc()
                log.info("notification_retried", attempt=attempt, error=str(error))
            except _PermanentError as error:
                self._metrics.failed.labels(name, message.kind.value).inc()
                log.warning("notification_failed", attempts=attempt, error=str(error))
                return
            else:
                self._metrics.sent.labels(name, message.kind.value).inc()
                log.debug("notification_sent", attempts=attempt)
                return

    def _post(self, body: dict[str, object]) -> None:
        try:
            response = self._client.post(self.destination.url, json=body)
        except httpx.TimeoutException as error:
            raise _RetryableError(
                f"timed out after {self.destination.timeout_seconds:g}s ({type(error).__name__})"
            ) from None
        except httpx.TransportError as error:
            raise _RetryableError(f"connection failed ({type(error).__name__})") from None

        # 429 and 5xx are temporary trouble on the receiver's side. Another identical request will not
        # fix any other non-2xx, such as a revoked Slack token (404) or a rejected body (400).
        status = response.status_code
        if status == 429 or status >= 500:
            raise _RetryableError(f"receiver returned HTTP {status}")
        if not 200 <= status < 300:
            raise _PermanentError(f"receiver returned HTTP {status}; check the destination's URL and format")

    def _wait_before_retry(self, attempt: int) -> bool:
        """Sleep the backoff for this attempt; return False when close() timed out and the sink gives up."""
        delay = self.destination.backoff_seconds * 2 ** (attempt - 1)
        return not self._abandoned.wait(timeout=delay)

    def _drop(self, message: notification.Notification, *, cause: str) -> None:
        self._metrics.dropped.labels(self.destination.name).inc()
        self._dropped += 1

        # Log the first drop and then every hundredth, so a dead receiver cannot flood the logs.
        if self._dropped == 1 or self._dropped % 100 == 0:
            _log.warning(
                "notification_dropped",
                destination=self.destination.name,
                cause=cause,
                kind=message.kind.value,
                namespace=message.namespace,
                rollout=message.rollout,
                dropped_so_far=self._dropped,
            )
