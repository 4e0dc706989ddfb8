"""Where the control-plane binaries and the Gateway API CRDs are found.

Order of lookup for each binary, following controller-runtime's envtest so that its downloaded binaries
can be reused: a `TEST_ASSET_<NAME>` variable naming the file, then the folder in `KUBEBUILDER_ASSETS`,
then the cache that `hack/build-control-plane.sh` fills. envtest ships only etcd, kube-apiserver and
kubectl; the controller-manager, scheduler and kwok come from our cache or their own variables.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import shutil
import subprocess

REPOSITORY = pathlib.Path(__file__).resolve().parents[2]
VERSIONS_FILE = REPOSITORY / "hack" / "control-plane" / "versions.env"
BUILD_COMMAND = "bash hack/build-control-plane.sh"

# Binaries without which no API exists, and those that only bring workloads to life.
REQUIRED = ("etcd", "kube-apiserver", "kubectl")
WORKLOAD = ("kube-controller-manager", "kube-scheduler", "kwok")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Assets:
    """Paths of the binaries found (a name maps to None when missing) and of the Gateway API CRDs."""

    binaries: dict[str, pathlib.Path | None]
    gateway_api_crds: pathlib.Path | None
    searched: tuple[str, ...]

    def missing(self, names: tuple[str, ...]) -> list[str]:
        return [name for name in names if self.binaries.get(name) is None]

    def path(self, name: str) -> pathlib.Path:
        found = self.binaries.get(name)
        if found is None:
            raise FileNotFoundError(f"control-plane binary {name!r} not found; run `{BUILD_COMMAND}`")
        return found


def read_versions() -> dict[str, str]:
    """Parse the KEY=VALUE lines of hack/control-plane/versions.env."""
    versions = {}
    for line in VERSIONS_FILE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            versions[key] = value
    return versions


def cache_root() -> pathlib.Path:
    """The cache folder of hack/build-control-plane.sh, honouring the same variables as the script."""
    configured = os.environ.get("CANARYD_CONTROL_PLANE_CACHE")
    if configured:
        return pathlib.Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(pathlib.Path.home() / ".cache")
    return pathlib.Path(base) / "canaryd" / "control-plane"


def cache_bin_dir(versions: dict[str, str]) -> pathlib.Path:
    tag = (f"kubernetes-{versions['KUBERNETES_VERSION']}_etcd-{versions['ETCD_VERSION']}"
           f"_kwok-{versions['KWOK_VERSION']}")
    return cache_root() / tag / "bin"


def locate() -> Assets:
    """Find every binary and the CRDs; never builds or downloads a binary."""
    versions = read_versions()
    folders: list[tuple[str, pathlib.Path]] = []
    if os.environ.get("KUBEBUILDER_ASSETS"):
        folders.append(("KUBEBUILDER_ASSETS", pathlib.Path(os.environ["KUBEBUILDER_ASSETS"])))
    folders.append(("build cache", cache_bin_dir(versions)))

    binaries = {name: _find_binary(name, folders) for name in REQUIRED + WORKLOAD}
    searched = tuple(f"{label} {folder}" for label, folder in folders)
    return Assets(binaries=binaries, gateway_api_crds=_gateway_api_crds(versions), searched=searched)


def _find_binary(name: str, folders: list[tuple[str, pathlib.Path]]) -> pathlib.Path | None:
    # TEST_ASSET_KUBE_APISERVER, TEST_ASSET_ETCD, TEST_ASSET_KUBECTL are envtest's; the others follow suit.
    variable = "TEST_ASSET_" + name.upper().replace("-", "_")
    if os.environ.get(variable):
        explicit = pathlib.Path(os.environ[variable])
        if not os.access(explicit, os.X_OK):
            raise FileNotFoundError(
                f"{variable}={explicit} is not an executable file; point it at a binary or unset {variable}")
        return explicit
    for _, folder in folders:
        candidate = folder / name
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def _gateway_api_crds(versions: dict[str, str]) -> pathlib.Path | None:
    """The standard-channel CRDs: extracted by the build script, else read from the Go module cache."""
    version = versions["GATEWAY_API_VERSION"]
    extracted = cache_root() / "crds" / f"gateway-api-{version}"
    if extracted.is_dir():
        return extracted
    if shutil.which("go") is None:
        return None

    # `go mod download` fetches one module zip (a few MB) from the Go module proxy into the module cache.
    completed = subprocess.run(
        ["go", "mod", "download", "-json", f"sigs.k8s.io/gateway-api@{version}"],
        capture_output=True, text=True, timeout=180, check=False, cwd="/",
    )
    if completed.returncode != 0:
        return None
    folder = pathlib.Path(json.loads(completed.stdout)["Dir"]) / "config" / "crd" / "standard"
    return folder if folder.is_dir() else None
