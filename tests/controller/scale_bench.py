"""Scale benchmark of `canaryd run`: many annotated Deployments on one controller replica.

    python -m tests.controller.scale_bench --deployments 1000 --rollouts 50 --output bench.json

Starts its own local control plane (the test cluster's binaries; kwok makes pods cheap), creates the
Deployments and their HTTPRoutes, runs one controller replica as a subprocess and waits until every
Deployment is bootstrapped. Then it measures, over an idle window that covers at least one periodic
resync: the controller's CPU time and peak resident memory (from /proc), and the API requests it sent
(its own `canaryd_api_requests` counter, so full relists would show as LIST requests). Last, it changes
the pod template of `--rollouts` Deployments at once and records, per Deployment, the time from the
patch's response to the watch delivering the new attempt's CanaryRollout.

Prometheus is not started: analyses find no data and hold, which does not affect these numbers.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import pathlib
import statistics
import sys
import tempfile
import threading
import time

import kubernetes

from tests.cluster import assets, controlplane, plugin
from tests.controller import support

NAMESPACE = "bench"


def deployment(name: str) -> dict:
    labels = {"app": name}
    annotations = {
        "canaryd.io/enabled": "true",
        "canaryd.io/router": "gateway-api",
        "canaryd.io/httproute": name,
        "canaryd.io/steps": "10,50",
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels, "annotations": annotations},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "example.invalid/app:1"}]},
            },
        },
    }


def route(name: str) -> dict:
    refs = [
        {"name": f"{name}-primary", "port": 80, "weight": 100},
        {"name": f"{name}-canary", "port": 80, "weight": 0},
    ]
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name},
        "spec": {"parentRefs": [{"name": "gateway"}], "rules": [{"backendRefs": refs}]},
    }


def create_apps(api_client: kubernetes.client.ApiClient, count: int) -> None:
    apps = kubernetes.client.AppsV1Api(api_client)
    custom = kubernetes.client.CustomObjectsApi(api_client)

    def create(index: int) -> None:
        name = f"app-{index:04d}"
        custom.create_namespaced_custom_object(
            "gateway.networking.k8s.io", "v1", NAMESPACE, "httproutes", route(name)
        )
        apps.create_namespaced_deployment(NAMESPACE, deployment(name))

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(create, range(count)))


def add_nodes(api_client: kubernetes.client.ApiClient, count: int) -> None:
    """Register more kwok nodes: each takes at most 110 pods, as a kubelet's default allows."""
    key, value = controlplane.FAKE_NODE_ANNOTATION
    core = kubernetes.client.CoreV1Api(api_client)
    for index in range(count):
        name = f"kwok-bench-{index}"
        labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "type": "kwok"}
        annotations = {key: value, "node.alpha.kubernetes.io/ttl": "0"}
        core.create_node({"metadata": {"name": name, "labels": labels, "annotations": annotations}})


def idle_rollouts(custom: kubernetes.client.CustomObjectsApi) -> int:
    listing = custom.list_namespaced_custom_object("canaryd.io", "v1alpha1", NAMESPACE, "canaryrollouts")
    return sum(1 for item in listing["items"] if (item.get("status") or {}).get("phase") == "Idle")


def process_sample(pid: int) -> tuple[float, int]:
    """Return the process's CPU seconds (user + system) and resident memory in bytes."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu_seconds = (int(fields[11]) + int(fields[12])) / ticks
    rss_pages = int(pathlib.Path(f"/proc/{pid}/statm").read_text().split()[1])
    return cpu_seconds, rss_pages * os.sysconf("SC_PAGE_SIZE")


def api_requests(controller: support.ControllerProcess) -> dict[str, float]:
    totals: dict[str, float] = {}
    for line in controller.metrics().splitlines():
        if line.startswith("canaryd_api_requests_total{"):
            labels, value = line.rsplit(" ", 1)
            verb = labels.split('verb="', 1)[1].split('"', 1)[0]
            totals[verb] = totals.get(verb, 0.0) + float(value)
    return totals


def measure_idle(controller: support.ControllerProcess, pid: int, seconds: float) -> dict:
    cpu_start, _ = process_sample(pid)
    requests_start = api_requests(controller)
    peak_rss = 0
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        peak_rss = max(peak_rss, process_sample(pid)[1])
        time.sleep(1.0)
    elapsed = time.monotonic() - started
    cpu_end, _ = process_sample(pid)
    requests_end = api_requests(controller)
    per_verb = {verb: requests_end.get(verb, 0.0) - requests_start.get(verb, 0.0) for verb in requests_end}
    return {
        "window_seconds": round(elapsed, 1),
        "cpu_percent_of_one_core": round(100 * (cpu_end - cpu_start) / elapsed, 2),
        "peak_rss_megabytes": round(peak_rss / 2**20, 1),
        "api_requests_per_minute": round(60 * sum(per_verb.values()) / elapsed, 1),
        "api_requests_by_verb": {verb: int(count) for verb, count in sorted(per_verb.items()) if count},
    }


def measure_rollout_starts(api_client: kubernetes.client.ApiClient, count: int, timeout: float) -> dict:
    apps = kubernetes.client.AppsV1Api(api_client)
    custom = kubernetes.client.CustomObjectsApi(api_client)
    names = [f"app-{index:04d}" for index in range(count)]
    seen: dict[str, float] = {}
    listing = custom.list_namespaced_custom_object("canaryd.io", "v1alpha1", NAMESPACE, "canaryrollouts")
    watch = kubernetes.watch.Watch()

    def follow() -> None:
        stream = watch.stream(
            custom.list_namespaced_custom_object,
            "canaryd.io",
            "v1alpha1",
            NAMESPACE,
            "canaryrollouts",
            resource_version=listing["metadata"]["resourceVersion"],
            timeout_seconds=int(timeout) + 30,
        )
        for event in stream:
            name = event["object"]["metadata"]["name"]
            if event["type"] == "ADDED" and name.endswith("-1"):
                seen.setdefault(name[: -len("-1")], time.monotonic())

    threading.Thread(target=follow, daemon=True).start()
    time.sleep(1.0)
    patched: dict[str, float] = {}

    def change(name: str) -> None:
        patch = {
            "spec": {
                "template": {"spec": {"containers": [{"name": "app", "image": "example.invalid/app:2"}]}}
            }
        }
        apps.patch_namespaced_deployment(name, NAMESPACE, patch)
        patched[name] = time.monotonic()

    with concurrent.futures.ThreadPoolExecutor(max_workers=count) as pool:
        list(pool.map(change, names))
    support.wait_for(
        lambda: len(seen) >= count, timeout=timeout, message=f"{count} new CanaryRollouts", interval=0.2
    )
    watch.stop()
    latencies = sorted(seen[name] - patched[name] for name in names)
    return {
        "rollouts": count,
        "median_seconds": round(statistics.median(latencies), 3),
        "p99_seconds": round(latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 3),
        "max_seconds": round(latencies[-1], 3),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deployments", type=int, default=1000)
    parser.add_argument("--rollouts", type=int, default=50)
    parser.add_argument("--resync-seconds", type=float, default=300.0)
    parser.add_argument("--idle-seconds", type=float, default=360.0, help="idle window; cover one resync")
    parser.add_argument("--settle-seconds", type=float, default=120.0, help="wait after the bootstrap")
    parser.add_argument("--qps", type=float, default=200.0)
    parser.add_argument("--burst", type=int, default=400)
    parser.add_argument("--output", type=pathlib.Path)
    options = parser.parse_args(argv)

    found = assets.locate()
    missing = found.missing(assets.REQUIRED + assets.WORKLOAD)
    if missing:
        sys.exit(f"control-plane binaries missing: {', '.join(missing)}; run `{assets.BUILD_COMMAND}`")
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="canaryd-scale-"))
    # Two Services per Deployment outgrow the test cluster's /24 of Service IPs; nothing is sent to them.
    controlplane.SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/16"
    plane = controlplane.LocalControlPlane(found=found, workdir=workdir, with_workloads=True)
    connection = plane.start()
    controller = None
    results: dict = {"deployments": options.deployments, "qps": options.qps, "burst": options.burst}
    try:
        plugin.install_test_crds(connection, found)
        api_client = connection.api_client()
        kubernetes.client.CoreV1Api(api_client).create_namespace({"metadata": {"name": NAMESPACE}})
        plugin._wait_for_default_service_account(kubernetes.client.CoreV1Api(api_client), NAMESPACE)

        add_nodes(api_client, count=2 * options.deployments // 100 + 1)
        started = time.monotonic()
        create_apps(api_client, options.deployments)
        results["create_seconds"] = round(time.monotonic() - started, 1)
        print(f"created {options.deployments} Deployments in {results['create_seconds']} s", flush=True)

        controller = support.ControllerProcess(
            kubeconfig=connection.kubeconfig,
            namespace=NAMESPACE,
            prometheus_url="http://127.0.0.1:9",
            workdir=workdir,
            identity="canaryd-bench",
        )
        # Watch every namespace, as a cluster-wide install does.
        at = controller.command.index("--namespace")
        del controller.command[at : at + 2]
        controller.command += [
            "--lease-namespace",
            NAMESPACE,
            "--qps",
            str(options.qps),
            "--burst",
            str(options.burst),
            "--workers",
            "8",
            "--requeue",
            "5",
            "--resync",
            str(options.resync_seconds),
            "--log-level",
            "warning",
        ]
        started = time.monotonic()
        controller.start()
        custom = kubernetes.client.CustomObjectsApi(api_client)
        support.wait_for(
            lambda: idle_rollouts(custom) >= options.deployments,
            timeout=1800,
            interval=5.0,
            message=f"{options.deployments} bootstrapped Deployments",
        )
        results["bootstrap_seconds"] = round(time.monotonic() - started, 1)
        print(f"bootstrapped in {results['bootstrap_seconds']} s", flush=True)

        # The bootstrap's tail (the user Deployments' pods terminating) still wakes passes for a while.
        time.sleep(options.settle_seconds)
        pid = controller._process.pid  # noqa: SLF001 -- the benchmark reads the process it started
        results["idle"] = measure_idle(controller, pid, options.idle_seconds)
        print(f"idle: {results['idle']}", flush=True)
        results["rollout_start"] = measure_rollout_starts(api_client, options.rollouts, timeout=300)
        print(f"rollout start: {results['rollout_start']}", flush=True)
    finally:
        if controller is not None:
            controller.stop()
        plane.stop()
    text = json.dumps(results, indent=2)
    print(text)
    if options.output:
        options.output.write_text(text + "\n")


if __name__ == "__main__":
    main()
