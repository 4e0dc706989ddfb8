"""Pytest fixtures over `tests.harness.prometheus`; enable with `pytest_plugins`.

    pytest_plugins = ["tests.harness.fixtures"]

`prometheus_harness` gives a test a `Harness` in its own temporary folder: start apps with
`start_app(...)`, then `start_prometheus()` to scrape them, then `start_load(...)`. Everything
it started is stopped when the test ends, passed or failed.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest

from tests.harness import prometheus


@pytest.fixture(scope="session")
def prometheus_binary() -> pathlib.Path:
    return prometheus.ensure_prometheus()


@pytest.fixture
def prometheus_harness(
    tmp_path: pathlib.Path, prometheus_binary: pathlib.Path
) -> Iterator[prometheus.Harness]:
    with prometheus.harness(tmp_path) as harness:
        yield harness
