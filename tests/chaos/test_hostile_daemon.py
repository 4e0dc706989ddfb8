"""Hostile annotations through the running daemon: each bad set gets a Warning Event naming every bad key.

Generated annotation sets with bad values or unknown keys (`tests.chaos.hostile`) are written one after
another onto a bootstrapped Deployment, while `canaryd run` watches it. Sets the API server itself
rejects (annotation keys that are not qualified names) are counted and skipped. For every accepted set,
the daemon must keep running, post an InvalidSpec Warning whose message names each bad key, and leave
the primary and the canary's replicas alone.
"""

from __future__ import annotations

import collections
import pathlib
import random
import re

import kubernetes
import pytest

from canaryd import spec
from tests.chaos import controller, hostile, scale, workloads

pytestmark = [pytest.mark.chaos, pytest.mark.cluster]

# Kubernetes annotation keys: an optional DNS-subdomain prefix and a name of at most 63 characters.
_ANNOTATION_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]")
DAEMON_CASES = {"bounded": 15, "full": 200}


def _is_valid_key(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    return len(prefix) <= 253 and len(name) <= 63 and _ANNOTATION_NAME.fullmatch(name) is not None


def _bad_cases(rng: random.Random, count: int) -> list[hostile.AnnotationCase]:
    cases = []
    while len(cases) < count:
        case = hostile.annotation_case(rng)
        # A valid "false" turns canaryd off for the Deployment, which is a request, not hostile input.
        turns_off = case.meanings.get("enabled") is False
        if case.bad_keys and not turns_off and all(_is_valid_key(key) for key in case.annotations):
            cases.append(case)
    return cases


def _write_annotations(
    api_client: kubernetes.client.ApiClient, *, namespace: str, annotations: dict[str, str]
) -> None:
    # A merge patch sets the case's keys and removes every other canaryd.io key of the previous case.
    current = workloads.read_deployment(api_client, namespace=namespace, name="web") or {}
    old = current.get("metadata", {}).get("annotations") or {}
    patch: dict[str, str | None] = {key: None for key in old if key.startswith(spec.PREFIX)}
    patch.update(annotations)
    patch[spec.PREFIX + "enabled"] = annotations.get(spec.PREFIX + "enabled", "true")
    kubernetes.client.AppsV1Api(api_client).patch_namespaced_deployment(
        "web", namespace, {"metadata": {"annotations": patch}}
    )


def test_daemon_names_every_bad_key(
    workload_cluster, kube_api_client, kubeconfig: pathlib.Path, namespace: str, tmp_path: pathlib.Path
):
    rng = random.Random(scale.seed())
    cases = _bad_cases(rng, DAEMON_CASES[scale.current().name])
    tally: collections.Counter[str] = collections.Counter()
    apps = kubernetes.client.AppsV1Api(kube_api_client)
    apps.create_namespaced_deployment(
        namespace,
        workloads.deployment(
            "web", image="example.invalid/web:1", annotations={"canaryd.io/enabled": "true"}
        ),
    )

    with controller.RecordingServer(
        body={"status": "success", "data": {"resultType": "matrix", "result": []}}
    ) as prom:
        daemon = controller.ControllerProcess(
            kubeconfig=kubeconfig, workdir=tmp_path, prometheus_url=prom.url, lease_namespace=namespace,
            namespaces=(namespace,),
        )  # fmt: skip
        daemon.start()
        try:
            daemon.wait_ready()
            workloads.wait_for(
                lambda: (
                    workloads.latest_status(kube_api_client, namespace=namespace, deployment="web").get(
                        "phase"
                    )
                    == "Idle"
                ),
                timeout=60,
                message="bootstrap to finish",
                describe=daemon.log_tail,
            )
            for number, case in enumerate(cases):
                context = f"case {number} (seed {scale.seed()}): {case.annotations!r:.400}"
                try:
                    _write_annotations(kube_api_client, namespace=namespace, annotations=case.annotations)
                except kubernetes.client.ApiException as error:
                    assert error.status == 422, context
                    tally["rejected by the API server"] += 1
                    continue
                tally["written"] += 1
                workloads.wait_for(
                    lambda case=case: _warning_naming(
                        kube_api_client, namespace=namespace, keys=case.bad_keys
                    ),
                    timeout=30,
                    message=f"an InvalidSpec Warning naming {sorted(case.bad_keys)}; {context}",
                    describe=lambda: [
                        event["message"][:300] for event in _invalid_spec_events(kube_api_client, namespace)
                    ][-3:],
                )
                assert daemon.is_running(), daemon.log_tail()
        finally:
            daemon.stop()

    primary = workloads.read_deployment(kube_api_client, namespace=namespace, name="web-primary")
    assert primary is not None
    assert primary["spec"]["template"]["spec"]["containers"][0]["image"] == "example.invalid/web:1"
    canary = workloads.read_deployment(kube_api_client, namespace=namespace, name="web")
    assert canary is not None
    assert canary["spec"]["replicas"] == 0
    assert tally["written"] >= len(cases) // 2, tally
    print(f"hostile daemon tally: {dict(tally)}")


def _invalid_spec_events(api_client: kubernetes.client.ApiClient, namespace: str) -> list[dict]:
    return [
        event
        for event in workloads.events(api_client, namespace=namespace)
        if event["reason"] == "InvalidSpec" and event["involvedObject"]["kind"] == "Deployment"
    ]


def _warning_naming(api_client: kubernetes.client.ApiClient, *, namespace: str, keys: frozenset[str]) -> bool:
    return any(
        event["type"] == "Warning" and all(key in event["message"] for key in keys)
        for event in _invalid_spec_events(api_client, namespace)
    )
