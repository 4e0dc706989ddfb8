"""A throwaway Kubernetes control plane on 127.0.0.1: etcd, kube-apiserver with TLS and RBAC, and, for
workloads, kube-controller-manager, kube-scheduler and kwok with one fake node.

kwok plays the kubelet: it marks the fake node Ready and every pod bound to it Running and Ready, so a
Deployment gets a ReplicaSet (controller-manager), its pods get a node (scheduler) and become Ready (kwok).
No container ever runs. Everything listens on loopback ports chosen at start and stops with `stop()`.
`restart_apiserver()` stops the kube-apiserver alone and starts it again on the same port, as a rolling
control-plane upgrade does, while etcd and the other components keep running.
"""

from __future__ import annotations

import dataclasses
import pathlib
import ssl
import subprocess
import time
from collections.abc import Callable

import kubernetes
import yaml

from . import assets as assets_module
from . import pki, processes

STAGES_FILE = pathlib.Path(__file__).with_name("kwok-stages.yaml")
FAKE_NODE_NAME = "kwok-node-0"
# The annotation kwok selects the nodes it manages by; nodes without it are left alone.
FAKE_NODE_ANNOTATION = ("kwok.x-k8s.io/node", "fake")
SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"

ETCD_START_SECONDS = 60.0
APISERVER_START_SECONDS = 120.0
COMPONENT_START_SECONDS = 60.0
NODE_READY_SECONDS = 60.0
KUBECTL_SECONDS = 120


@dataclasses.dataclass(frozen=True, kw_only=True)
class Connection:
    """How a test reaches a running cluster."""

    kubeconfig: pathlib.Path
    kubectl: pathlib.Path
    # True when Deployments get Ready pods: controller-manager, scheduler and kwok run (or a real cluster).
    runs_workloads: bool

    def api_client(self) -> kubernetes.client.ApiClient:
        return kubernetes.config.new_client_from_config(config_file=str(self.kubeconfig))

    def kubectl_run(self, *arguments: str,
                    timeout: float = KUBECTL_SECONDS) -> subprocess.CompletedProcess[str]:
        """Run kubectl against this cluster; raise with its output when it fails."""
        command = [str(self.kubectl), "--kubeconfig", str(self.kubeconfig), *arguments]
        completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if completed.returncode != 0:
            raise RuntimeError(f"`{' '.join(command)}` failed with code {completed.returncode}:\n"
                               f"{completed.stdout}{completed.stderr}")
        return completed


class LocalControlPlane:
    """Start and stop the processes of one test cluster in `workdir`."""

    def __init__(self, *, found: assets_module.Assets, workdir: pathlib.Path, with_workloads: bool) -> None:
        self.found = found
        self.workdir = workdir
        self.with_workloads = with_workloads
        self._processes: list[processes.ManagedProcess] = []
        self._apiserver: processes.ManagedProcess | None = None
        self._apiserver_is_ready: Callable[[], bool] = lambda: False

    def start(self) -> Connection:
        """Start every process in order, waiting for each to be ready; stop all again on any failure."""
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the processes in reverse start order; each stop is bounded by SIGKILL after a grace period."""
        for process in reversed(self._processes):
            process.stop()
        self._processes.clear()
        self._apiserver = None

    def restart_apiserver(self, *, down_seconds: float = 0.0) -> float:
        """Stop kube-apiserver, wait `down_seconds`, and start it again with the same flags, port and
        certificates. Return the seconds from the stop until /readyz returned 200.

        The stop is a SIGTERM, then a SIGKILL if the process is still there after the grace period of
        `processes.STOP_GRACE_SECONDS`. kube-apiserver stops listening as soon as it gets the SIGTERM, so
        clients see refused connections from then on, and then a server whose watch cache starts afresh.
        etcd keeps running, so every object and resourceVersion survives.
        NOTE: kube-apiserver v1.35.4 was still running 10 s after SIGTERM in every restart measured here,
        so each restart so far ended with the SIGKILL and its graceful shutdown never completed.
        """
        if self._apiserver is None:
            raise RuntimeError("restart_apiserver() needs a started control plane; call start() first")
        stopped_at = time.monotonic()
        self._apiserver.stop()
        time.sleep(down_seconds)
        self._apiserver.start()
        self._wait_for_apiserver()
        return time.monotonic() - stopped_at

    def _start(self) -> Connection:
        certificates = pki.create(folder=self.workdir / "pki")
        etcd_url = self._start_etcd()
        server = self._start_apiserver(certificates=certificates, etcd_url=etcd_url)
        admin_kubeconfig = self._write_kubeconfig(name="admin", server=server, ca=certificates.ca,
                                                  client=certificates.admin)
        connection = Connection(kubeconfig=admin_kubeconfig, kubectl=self.found.path("kubectl"),
                                runs_workloads=self.with_workloads)

        if self.with_workloads:
            self._start_controller_manager(certificates=certificates, server=server)
            self._start_scheduler(certificates=certificates, server=server)
            self._start_kwok(kubeconfig=admin_kubeconfig)
            create_fake_node(connection)
        return connection

    def _spawn(self, name: str, argv: list[str]) -> processes.ManagedProcess:
        process = processes.ManagedProcess(name=name, argv=argv, log_path=self.workdir / f"{name}.log")
        self._processes.append(process)
        process.start()
        return process

    def _start_etcd(self) -> str:
        client_port, peer_port = processes.free_port(), processes.free_port()
        client_url, peer_url = f"http://127.0.0.1:{client_port}", f"http://127.0.0.1:{peer_port}"
        # --unsafe-no-fsync: the data is thrown away after the session, and fsync on a shared disk is the
        # slowest part of every write.
        etcd = self._spawn("etcd", [
            str(self.found.path("etcd")),
            "--data-dir", str(self.workdir / "etcd-data"),
            "--listen-client-urls", client_url, "--advertise-client-urls", client_url,
            "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
            "--initial-cluster", f"default={peer_url}",
            "--unsafe-no-fsync",
            "--log-level", "warn",
        ])
        etcd.wait_until(is_ready=lambda: processes.http_answers_ok(f"{client_url}/health"),
                        timeout=ETCD_START_SECONDS, condition="/health returns 200")
        return client_url

    def _start_apiserver(self, *, certificates: pki.ControlPlanePki, etcd_url: str) -> str:
        port = processes.free_port()
        server = f"https://127.0.0.1:{port}"
        apiserver = self._spawn("kube-apiserver", [
            str(self.found.path("kube-apiserver")),
            "--etcd-servers", etcd_url,
            "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", str(port),
            "--cert-dir", str(self.workdir / "apiserver-certs"),
            "--tls-cert-file", str(certificates.serving.cert),
            "--tls-private-key-file", str(certificates.serving.key),
            "--client-ca-file", str(certificates.ca.cert),
            "--authorization-mode", "RBAC",
            "--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
            "--service-account-key-file", str(certificates.service_account_public_key),
            "--service-account-signing-key-file", str(certificates.service_account_private_key),
            "--service-cluster-ip-range", SERVICE_CLUSTER_IP_RANGE,
            # The `kubernetes` Service's Endpoints may not point at loopback, and nothing here dials it.
            "--endpoint-reconciler-type", "none",
            "--allow-privileged=true",
            "--profiling=false",
        ])
        context = client_tls_context(ca=certificates.ca, client=certificates.admin)
        self._apiserver = apiserver
        self._apiserver_is_ready = lambda: processes.https_answers_ok(f"{server}/readyz", context=context)
        self._wait_for_apiserver()
        return server

    def _wait_for_apiserver(self) -> None:
        assert self._apiserver is not None
        self._apiserver.wait_until(is_ready=self._apiserver_is_ready, timeout=APISERVER_START_SECONDS,
                                   condition="/readyz returns 200")

    def _start_controller_manager(self, *, certificates: pki.ControlPlanePki, server: str) -> None:
        kubeconfig = self._write_kubeconfig(name="controller-manager", server=server, ca=certificates.ca,
                                            client=certificates.controller_manager)
        port = processes.free_port()
        manager = self._spawn("kube-controller-manager", [
            str(self.found.path("kube-controller-manager")),
            "--kubeconfig", str(kubeconfig),
            "--authentication-kubeconfig", str(kubeconfig),
            "--authorization-kubeconfig", str(kubeconfig),
            "--bind-address", "127.0.0.1", "--secure-port", str(port),
            "--cert-dir", str(self.workdir / "controller-manager-certs"),
            "--leader-elect=false",
            "--service-account-private-key-file", str(certificates.service_account_private_key),
            "--root-ca-file", str(certificates.ca.cert),
            "--use-service-account-credentials=false",
            "--profiling=false",
        ])
        manager.wait_until(is_ready=lambda: processes.https_answers_ok(
            f"https://127.0.0.1:{port}/healthz", context=unverified_tls_context()),
            timeout=COMPONENT_START_SECONDS, condition="/healthz returns 200")

    def _start_scheduler(self, *, certificates: pki.ControlPlanePki, server: str) -> None:
        kubeconfig = self._write_kubeconfig(name="scheduler", server=server, ca=certificates.ca,
                                            client=certificates.scheduler)
        port = processes.free_port()
        scheduler = self._spawn("kube-scheduler", [
            str(self.found.path("kube-scheduler")),
            "--kubeconfig", str(kubeconfig),
            "--authentication-kubeconfig", str(kubeconfig),
            "--authorization-kubeconfig", str(kubeconfig),
            "--bind-address", "127.0.0.1", "--secure-port", str(port),
            "--cert-dir", str(self.workdir / "scheduler-certs"),
            "--leader-elect=false",
            "--profiling=false",
        ])
        scheduler.wait_until(is_ready=lambda: processes.https_answers_ok(
            f"https://127.0.0.1:{port}/healthz", context=unverified_tls_context()),
            timeout=COMPONENT_START_SECONDS, condition="/healthz returns 200")

    def _start_kwok(self, *, kubeconfig: pathlib.Path) -> None:
        key, value = FAKE_NODE_ANNOTATION
        # kwok also reads ~/.kwok/kwok.yaml when it exists; its own work folder keeps a user's file out.
        kwok_home = self.workdir / "kwok"
        kwok_home.mkdir(exist_ok=True)
        process = processes.ManagedProcess(name="kwok", log_path=self.workdir / "kwok.log", argv=[
            "env", f"KWOK_WORKDIR={kwok_home}",
            str(self.found.path("kwok")),
            "--kubeconfig", str(kubeconfig),
            "--config", str(STAGES_FILE),
            "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector", f"{key}={value}",
            "--node-lease-duration-seconds", "40",
        ])
        self._processes.append(process)
        process.start()
        # kwok has no readiness endpoint unless it serves a node port. The fake node turning Ready is the
        # readiness check (create_fake_node), and this catches a kwok that exits at once.
        time.sleep(1.0)
        if not process.is_running():
            raise processes.StartupError(f"kwok exited at start\n{process.log_tail()}")

    def _write_kubeconfig(self, *, name: str, server: str, ca: pki.CertificatePair,
                          client: pki.CertificatePair) -> pathlib.Path:
        path = self.workdir / f"{name}.kubeconfig"
        write_kubeconfig(path=path, server=server, ca=ca, client=client, user=name)
        return path


def write_kubeconfig(*, path: pathlib.Path, server: str, ca: pki.CertificatePair, client: pki.CertificatePair,
                     user: str) -> None:
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "canaryd-test", "cluster": {
            "server": server, "certificate-authority": str(ca.cert)}}],
        "users": [{"name": user, "user": {
            "client-certificate": str(client.cert), "client-key": str(client.key)}}],
        "contexts": [{"name": "canaryd-test", "context": {"cluster": "canaryd-test", "user": user}}],
        "current-context": "canaryd-test",
    }
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    path.chmod(0o600)


def client_tls_context(*, ca: pki.CertificatePair, client: pki.CertificatePair) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca.cert))
    context.load_cert_chain(certfile=str(client.cert), keyfile=str(client.key))
    return context


def unverified_tls_context() -> ssl.SSLContext:
    """For /healthz of the controller-manager and scheduler: they serve a self-signed loopback cert."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def create_fake_node(connection: Connection) -> None:
    """Register the node kwok manages and wait until kwok reports it Ready."""
    key, value = FAKE_NODE_ANNOTATION
    with connection.api_client() as api_client:
        core = kubernetes.client.CoreV1Api(api_client)
        core.create_node(kubernetes.client.V1Node(metadata=kubernetes.client.V1ObjectMeta(
            name=FAKE_NODE_NAME,
            annotations={key: value, "node.alpha.kubernetes.io/ttl": "0"},
            labels={"kubernetes.io/hostname": FAKE_NODE_NAME, "kubernetes.io/os": "linux", "type": "kwok"},
        )))

        deadline = time.monotonic() + NODE_READY_SECONDS
        while time.monotonic() < deadline:
            node = core.read_node(FAKE_NODE_NAME)
            conditions = node.status.conditions or []
            if any(condition.type == "Ready" and condition.status == "True" for condition in conditions):
                return
            time.sleep(0.5)
    raise processes.StartupError(
        f"node {FAKE_NODE_NAME} did not become Ready within {NODE_READY_SECONDS:.0f}s because kwok did not "
        "apply its node stage; see kwok.log in the control plane's folder")


def install_crds(connection: Connection, *, folders: list[pathlib.Path]) -> None:
    """Apply every CRD manifest in `folders` (recursively) and wait until all are Established."""
    for folder in folders:
        connection.kubectl_run("apply", "--server-side", "--force-conflicts", "-R", "-f", str(folder))
    connection.kubectl_run("wait", "--for", "condition=Established", "crd", "--all", "--timeout", "60s")


def has_manifests(folder: pathlib.Path) -> bool:
    return folder.is_dir() and any(folder.rglob("*.yaml"))
