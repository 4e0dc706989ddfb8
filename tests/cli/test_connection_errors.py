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
    assert "absent not found" in result.output


def test_context_namespace_is_the_default(tmp_path: pathlib.Path) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "config", server="http://127.0.0.1:1")

    cluster = commands_api.Cluster(kubeconfig=str(kubeconfig), context=None, namespace=None)

    assert cluster.namespace == "shop"


def test_malformed_kubeconfig_names_file_and_yaml_error(tmp_path: pathlib.Path) -> None:
    kubeconfig = tmp_path / "kc-bad.yaml"
    kubeconfig.write_text("apiVersion: v1\nclusters: [\n  - name: x\n")

    result = testing.CliRunner().invoke(main.cli, ["status", "web", "--kubeconfig", str(kubeconfig)])

    assert result.exit_code == output.ExitCode.UNREACHABLE, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"kubeconfig {kubeconfig} is not valid YAML" in result.output
    assert "line 3, column 3" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_missing_kubeconfig_names_the_path(tmp_path: pathlib.Path) -> None:
    absent = tmp_path / "absent"

    result = testing.CliRunner().invoke(main.cli, ["status", "web", "--kubeconfig", str(absent)])

    assert result.exit_code == output.ExitCode.UNREACHABLE, result.output
    assert f"kubeconfig {absent} not found" in result.output


def test_unknown_context_lists_the_available_ones(tmp_path: pathlib.Path) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "config", server="http://127.0.0.1:1")

    result = testing.CliRunner().invoke(
        main.cli, ["status", "web", "--kubeconfig", str(kubeconfig), "--context", "nope"]
    )

    assert result.exit_code == output.ExitCode.UNREACHABLE, result.output
    assert "context 'nope' not found" in result.output
    assert "its contexts are: nowhere" in result.output
    assert "set KUBECONFIG" not in result.output
