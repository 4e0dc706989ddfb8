"""The rollout commands without a reachable API server: documented exit codes, no traceback."""

from __future__ import annotations

import pathlib
import socket
import time

import yaml
from click import testing

from canaryd.cli import commands_api, main, output


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_kubeconfig(path: pathlib.Path, *, server: str) -> pathlib.Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "nowhere", "cluster": {"server": server}}],
        "users": [{"name": "someone", "user": {"token": "not-a-real-token"}}],
        "contexts": [
            {"name": "nowhere", "context": {"cluster": "nowhere", "user": "someone", "namespace": "shop"}}
        ],
        "current-context": "nowhere",
    }
    path.write_text(yaml.safe_dump(config))
    return path


def test_unreachable_api_server_exits_4(tmp_path: pathlib.Path) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "config", server=f"http://127.0.0.1:{closed_port()}")

    started = time.monotonic()
    result = testing.CliRunner().invoke(main.cli, ["status", "web", "--kubeconfig", str(kubeconfig)])

    assert result.exit_code == output.ExitCode.UNREACHABLE, result.output
    assert "cannot reach the Kubernetes API server for CanaryRollouts in namespace shop" in result.output
    assert time.monotonic() - started < 30


def test_missing_kubeconfig_exits_4(tmp_path: pathlib.Path) -> None:
    result = testing.CliRunner().invoke(
        main.cli, ["history", "web", "--kubeconfig", str(tmp_path / "absent")]
    )

    assert result.exit_code == output.ExitCode.UNREACHABLE, result.output
    assert "cannot load a kubeconfig" in result.output


def test_context_namespace_is_the_default(tmp_path: pathlib.Path) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "config", server="http://127.0.0.1:1")

    cluster = commands_api.Cluster(kubeconfig=str(kubeconfig), context=None, namespace=None)

    assert cluster.namespace == "shop"
