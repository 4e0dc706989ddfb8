"""Import direction between canaryd's layers, and no clock or I/O client in the pure-logic layers.

Layers, lowest first (a module may import its own layer and those below it):
  0 pure data: observations, verdicts
  1 pure logic: spec, core, judge
  2 adapters: metrics, routers, kube, notify, observability
  3 engines: controller, standalone
  4 tools: demo, report, bench, cli
The checks read the source with `ast`, so a violating import fails here even inside a function body.
The same layers are an import-linter contract in pyproject.toml (`lint-imports`).
"""

from __future__ import annotations

import ast
import dataclasses
import pathlib

import pytest
from importlinter import cli as importlinter_cli

PACKAGE = pathlib.Path(__file__).parents[1] / "canaryd"

LAYERS: dict[str, int] = {
    "observations": 0,
    "verdicts": 0,
    "spec": 1,
    "core": 1,
    "judge": 1,
    "metrics": 2,
    "routers": 2,
    "kube": 2,
    "notify": 2,
    "observability": 2,
    "controller": 3,
    "standalone": 3,
    "demo": 4,
    "report": 4,
    "bench": 4,
    "cli": 4,
    "__main__": 4,
}
PURE_LAYER_MAX = 1

# Clients that do network I/O; the pure layers take their results as data instead.
FORBIDDEN_IN_PURE = (
    "kubernetes",
    "httpx",
    "prometheus_api_client",
    "requests",
    "urllib3",
    "socket",
    "subprocess",
)

# Calls that read the clock; the pure layers take `now` as a parameter instead.
CLOCK_CALLS = {
    ("time", "time"),
    ("time", "time_ns"),
    ("time", "monotonic"),
    ("time", "monotonic_ns"),
    ("time", "perf_counter"),
    ("time", "localtime"),
    ("time", "gmtime"),
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
}
CLOCK_FUNCTION_NAMES = {name for module, name in CLOCK_CALLS if module == "time"}


@dataclasses.dataclass(frozen=True)
class Module:
    path: pathlib.Path
    top: str  # first component under canaryd, e.g. "core" for canaryd/core/steps.py

    @property
    def layer(self) -> int | None:
        return LAYERS.get(self.top)

    def tree(self) -> ast.Module:
        return ast.parse(self.path.read_text(), filename=str(self.path))


def _modules() -> list[Module]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        if parts == ("__init__.py",):
            continue
        top = parts[0].removesuffix(".py")
        found.append(Module(path=path, top=top))
    return found


def _imported_modules(tree: ast.Module, module_path: pathlib.Path) -> list[tuple[str, int]]:
    """Every imported module name with its line, relative imports resolved against `module_path`."""
    package_parts = ["canaryd", *module_path.relative_to(PACKAGE).parts[:-1]]
    imported = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            imported.append((name, node.lineno))
            # `from canaryd import core` imports the subpackage `canaryd.core`.
            imported.extend((f"{name}.{alias.name}", node.lineno) for alias in node.names)
    return imported


def _canaryd_top(name: str) -> str | None:
    parts = name.split(".")
    if parts[0] != "canaryd" or len(parts) < 2:
        return None
    return parts[1]


MODULES = _modules()
PURE_MODULES = [module for module in MODULES if module.layer is not None and module.layer <= PURE_LAYER_MAX]


def _module_id(module: Module) -> str:
    return str(module.path.relative_to(PACKAGE.parent))


def test_every_package_has_a_layer():
    unassigned = sorted({module.top for module in MODULES if module.layer is None})

    assert unassigned == [], f"assign a layer to {unassigned} in LAYERS of tests/test_layers.py"


@pytest.mark.parametrize("module", MODULES, ids=_module_id)
def test_module_imports_no_higher_layer(module):
    if module.layer is None:
        pytest.skip(f"{module.top} has no layer (reported by test_every_package_has_a_layer)")

    upward = []
    for name, line in _imported_modules(module.tree(), module.path):
        top = _canaryd_top(name)
        if top is not None and top in LAYERS and LAYERS[top] > module.layer:
            upward.append(f"line {line}: {name} (layer {LAYERS[top]})")

    assert upward == [], f"{_module_id(module)} is in layer {module.layer} but imports {upward}"


@pytest.mark.parametrize("module", PURE_MODULES, ids=_module_id)
def test_pure_module_imports_no_io_client(module):
    clients = [
        f"line {line}: {name}"
        for name, line in _imported_modules(module.tree(), module.path)
        if name.split(".")[0] in FORBIDDEN_IN_PURE
    ]

    assert clients == [], f"{_module_id(module)} does pure logic but imports {clients}"


@pytest.mark.parametrize("module", PURE_MODULES, ids=_module_id)
def test_pure_module_reads_no_clock(module):
    assert _clock_reads(module.tree()) == [], (
        f"{_module_id(module)} reads the clock; take `now` as a parameter"
    )


def _clock_reads(tree: ast.Module) -> list[str]:
    reads = []
    for node in ast.walk(tree):
        # time.time(), datetime.datetime.now(), datetime.now(), date.today() ...
        if isinstance(node, ast.Attribute) and (_owner_name(node.value), node.attr) in CLOCK_CALLS:
            reads.append(f"line {node.lineno}: {_owner_name(node.value)}.{node.attr}")
        # from time import time, monotonic
        if isinstance(node, ast.ImportFrom) and node.module == "time":
            reads.extend(
                f"line {node.lineno}: from time import {alias.name}"
                for alias in node.names
                if alias.name in CLOCK_FUNCTION_NAMES
            )
    return reads


def _owner_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


@pytest.mark.parametrize(
    "source, expected",
    [
        pytest.param("import time\nx = time.time()", 1, id="time-time"),
        pytest.param("import datetime\nx = datetime.datetime.now()", 1, id="datetime-now"),
        pytest.param("from datetime import datetime\nx = datetime.utcnow()", 1, id="utcnow"),
        pytest.param("from datetime import date\nx = date.today()", 1, id="date-today"),
        pytest.param("from time import monotonic", 1, id="import-monotonic"),
        pytest.param("import datetime\nx = datetime.timedelta(seconds=1)", 0, id="timedelta-is-fine"),
    ],
)
def test_clock_check_finds_clock_reads(source, expected):
    assert len(_clock_reads(ast.parse(source))) == expected


def test_import_check_resolves_relative_and_package_imports():
    path = PACKAGE / "core" / "example.py"
    tree = ast.parse("from .. import kube\nfrom canaryd import controller\nimport httpx\n")

    names = [name for name, _ in _imported_modules(tree, path)]

    assert "canaryd.kube" in names
    assert "canaryd.controller" in names
    assert "httpx" in names


def test_import_linter_contracts_are_kept(monkeypatch):
    # lint-imports reads pyproject.toml from the working directory.
    monkeypatch.chdir(PACKAGE.parent)

    exit_code = importlinter_cli.lint_imports(no_cache=True, no_logo=True)

    assert exit_code == 0, "lint-imports found a broken contract; run `lint-imports` for the details"
