"""One request path to the API server: JSON in, JSON out, rate-limited, guarded, counted.

Layer 2. Built on the official client's `ApiClient` (configuration, TLS, auth, connection pool) but
without its generated models: the controller reads and writes plain dicts, which serve built-in kinds,
canaryd's `CanaryRollout` CRD and Gateway API `HTTPRoute` objects through the same code.

Every request waits for a token of a client-side rate limiter (QPS and burst are settings, as in
client-go). Every write first asks the write guard, which leader election keeps closed while this
replica does not hold the lease.
"""

from __future__ import annotations

import collections.abc
import contextlib
import dataclasses
import json
import threading
import time
import urllib.parse
from typing import Any, Protocol

import kubernetes.client
import kubernetes.client.exceptions
import kubernetes.watch.watch

ApiException = kubernetes.client.exceptions.ApiException

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

WRITE_VERBS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class NotLeaderError(RuntimeError):
    """Raised instead of sending a write while this replica does not hold the leader lease."""


@dataclasses.dataclass(frozen=True)
class Resource:
    """A REST resource: where its objects live on the API server."""

    group: str  # "" for the core group
    version: str
    plural: str
    kind: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, *, namespace: str | None = None, name: str | None = None, subresource: str = "") -> str:
        """Build the REST path of the collection, or of one object when `name` is given."""
        prefix = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            prefix += f"/namespaces/{urllib.parse.quote(namespace, safe='')}"
        path = f"{prefix}/{self.plural}"
        if name:
            path += f"/{urllib.parse.quote(name, safe='')}"
        if subresource:
            path += f"/{subresource}"
        return path


DEPLOYMENTS = Resource("apps", "v1", "deployments", "Deployment")
SERVICES = Resource("", "v1", "services", "Service")
PODS = Resource("", "v1", "pods", "Pod")
EVENTS = Resource("", "v1", "events", "Event")
LEASES = Resource("coordination.k8s.io", "v1", "leases", "Lease")
HPAS = Resource("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler")
CANARY_ROLLOUTS = Resource("canaryd.io", "v1alpha1", "canaryrollouts", "CanaryRollout")
METRIC_TEMPLATES = Resource("canaryd.io", "v1alpha1", "metrictemplates", "MetricTemplate")
CLUSTER_METRIC_TEMPLATES = Resource(
    "canaryd.io", "v1alpha1", "clustermetrictemplates", "ClusterMetricTemplate", namespaced=False
)
HTTP_ROUTES = Resource("gateway.networking.k8s.io", "v1", "httproutes", "HTTPRoute")


class RequestObserver(Protocol):
    """Receives one call per request sent and per request failed, for the controller's own metrics.

    `verb` is the Kubernetes verb: GET, LIST, WATCH, POST, PUT, PATCH or DELETE.
    """

    def api_request_sent(self, *, verb: str, resource: str) -> None: ...

    def api_request_failed(self, *, verb: str, resource: str, status: int) -> None: ...


class RateLimiter:
    """A token bucket: `qps` tokens per second, at most `burst` saved up. Thread-safe."""

    def __init__(self, *, qps: float, burst: int) -> None:
        if qps <= 0 or burst < 1:
            raise ValueError(f"client rate limit needs qps > 0 and burst >= 1, got qps={qps} burst={burst}")
        self._qps = qps
        self._burst = burst
        self._tokens = float(burst)
        self._updated = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Take one token, sleeping until one is available."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._qps)
            self._updated = now
            self._tokens -= 1
            wait = -self._tokens / self._qps if self._tokens < 0 else 0.0
        if wait > 0:
            time.sleep(wait)


def is_status(error: BaseException, status: int) -> bool:
    return isinstance(error, ApiException) and error.status == status


def is_not_found(error: BaseException) -> bool:
    return is_status(error, 404)


def is_conflict(error: BaseException) -> bool:
    return is_status(error, 409)


def is_gone(error: BaseException) -> bool:
    return is_status(error, 410)


class Api:
    """JSON requests against the API server with rate limiting, a write guard and error counting."""

    def __init__(
        self,
        *,
        api_client: kubernetes.client.ApiClient,
        qps: float = 20.0,
        burst: int = 40,
        may_write: collections.abc.Callable[[], bool] | None = None,
        observer: RequestObserver | None = None,
        request_timeout: float = 30.0,
    ) -> None:
        self._client = api_client
        self._limiter = RateLimiter(qps=qps, burst=burst)
        self._may_write = may_write
        self._observer = observer
        self._request_timeout = request_timeout
        self.request_count = 0  # every request sent, for the scale benchmark's requests-per-minute figure
        self._local = threading.local()

    def set_write_guard(self, may_write: collections.abc.Callable[[], bool] | None) -> None:
        self._may_write = may_write

    @contextlib.contextmanager
    def writes_unguarded(self) -> collections.abc.Iterator[None]:
        """Let this thread write without the guard: only leader election's own Lease writes need it."""
        self._local.unguarded = True
        try:
            yield
        finally:
            self._local.unguarded = False

    # Plain verbs.

    def get(self, resource: Resource, *, namespace: str | None, name: str) -> dict[str, Any]:
        return self.request("GET", resource, resource.path(namespace=namespace, name=name))

    def get_or_none(self, resource: Resource, *, namespace: str | None, name: str) -> dict[str, Any] | None:
        try:
            return self.get(resource, namespace=namespace, name=name)
        except ApiException as error:
            if is_not_found(error):
                return None
            raise

    def list(
        self, resource: Resource, *, namespace: str | None = None, query: dict[str, str] | None = None
    ) -> dict[str, Any]:
        return self.request("GET", resource, resource.path(namespace=namespace), query=query)

    def create(self, resource: Resource, *, namespace: str | None, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", resource, resource.path(namespace=namespace), body=body)

    def replace(
        self,
        resource: Resource,
        *,
        namespace: str | None,
        name: str,
        body: dict[str, Any],
        subresource: str = "",
    ) -> dict[str, Any]:
        path = resource.path(namespace=namespace, name=name, subresource=subresource)
        return self.request("PUT", resource, path, body=body)

    def patch(
        self,
        resource: Resource,
        *,
        namespace: str | None,
        name: str,
        body: Any,
        content_type: str = MERGE_PATCH,
        subresource: str = "",
        field_manager: str | None = None,
    ) -> dict[str, Any]:
        path = resource.path(namespace=namespace, name=name, subresource=subresource)
        query = {"fieldManager": field_manager} if field_manager else None
        return self.request("PATCH", resource, path, body=body, content_type=content_type, query=query)

    def delete(self, resource: Resource, *, namespace: str | None, name: str) -> None:
        try:
            self.request("DELETE", resource, resource.path(namespace=namespace, name=name))
        except ApiException as error:
            if not is_not_found(error):
                raise

    # The transport.

    def request(
        self,
        verb: str,
        resource: Resource,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        """Send one request and return the decoded JSON body; raise ApiException on a non-2xx status."""
        response = self._send(verb, resource, path, query=query, body=body, content_type=content_type)
        data = response.read()
        if not 200 <= response.status <= 299:
            self._count_failure(verb, resource, response.status)
            raise ApiException(status=response.status, reason=response.reason, http_resp=response)
        return json.loads(data) if data else {}

    def watch(
        self,
        resource: Resource,
        *,
        namespace: str | None,
        resource_version: str,
        timeout_seconds: int,
        label_selector: str | None = None,
    ) -> collections.abc.Iterator[dict[str, Any]]:
        """Yield watch events (dicts with `type` and `object`) until the server ends the watch."""
        query = {
            "watch": "true",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds),
        }
        if label_selector:
            query["labelSelector"] = label_selector
        path = resource.path(namespace=namespace)
        response = self._send(
            "GET", resource, path, query=query, timeout=(10.0, timeout_seconds + 30.0), counted_as="WATCH"
        )
        try:
            if not 200 <= response.status <= 299:
                response.read()
                self._count_failure("WATCH", resource, response.status)
                raise ApiException(status=response.status, reason=response.reason, http_resp=response)
            for line in kubernetes.watch.watch.iter_resp_lines(response.response):
                if line.strip():
                    yield json.loads(line)
        finally:
            response.response.release_conn()

    def _send(
        self,
        verb: str,
        resource: Resource,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: float | tuple[float, float] | None = None,
        counted_as: str | None = None,
    ) -> Any:
        # A replica that lost the lease must not write, even if a reconcile started before it lost it.
        guarded = self._may_write is not None and not getattr(self._local, "unguarded", False)
        if verb in WRITE_VERBS and guarded and not self._may_write():
            raise NotLeaderError(f"{verb} {path} rejected: this replica does not hold the leader lease")

        self._limiter.acquire()
        self.request_count += 1
        if self._observer is not None:
            is_list = verb == "GET" and path.endswith(f"/{resource.plural}")
            self._observer.api_request_sent(
                verb=counted_as or ("LIST" if is_list else verb), resource=resource.plural
            )
        headers = {"Accept": "application/json", "Content-Type": content_type}
        method, url, headers, body, post_params = self._client.param_serialize(
            method=verb,
            resource_path=path,
            query_params=list((query or {}).items()),
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        try:
            return self._client.call_api(
                method,
                url,
                header_params=headers,
                body=body,
                post_params=post_params,
                _request_timeout=timeout or self._request_timeout,
            )
        except Exception:
            self._count_failure(verb, resource, 0)
            raise

    def _count_failure(self, verb: str, resource: Resource, status: int) -> None:
        if self._observer is not None:
            self._observer.api_request_failed(verb=verb, resource=resource.plural, status=status)


def retry_on_conflict(
    update: collections.abc.Callable[[], dict[str, Any]], *, attempts: int = 5
) -> dict[str, Any]:
    """Run `update` (which must re-read the object and reapply its change) until it does not conflict.

    An update with a stale resourceVersion gets 409 Conflict; the caller's function reads the latest
    object and reapplies its change, so retrying it is safe. Other errors propagate at once.
    """
    for attempt in range(attempts):
        try:
            return update()
        except ApiException as error:
            if not is_conflict(error) or attempt == attempts - 1:
                raise
            time.sleep(0.05 * (2**attempt))
    raise AssertionError("unreachable: the loop returns or raises")


def object_key(obj: dict[str, Any]) -> str:
    """The work-queue key of an object: `namespace/name`, or `name` for cluster-scoped objects."""
    metadata = obj["metadata"]
    namespace = metadata.get("namespace")
    return f"{namespace}/{metadata['name']}" if namespace else metadata["name"]


def split_key(key: str) -> tuple[str | None, str]:
    namespace, _, name = key.rpartition("/")
    return (namespace or None), name
