"""Fixtures for the metrics tests: the shared Prometheus harness fixtures."""

from __future__ import annotations

from tests.harness.fixtures import prometheus_binary, prometheus_harness  # noqa: F401 - fixtures
