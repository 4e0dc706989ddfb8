"""Replica-ratio weights: the canary replicas chosen for a requested weight and the share they reach."""

from __future__ import annotations

import pytest

from canaryd.routers import replica_ratio


@pytest.mark.parametrize(
    ("primary_replicas", "weight", "canary_replicas", "actual"),
    [
        (4, 0, 0, 0),
        (4, 1, 1, 20),
        (4, 20, 1, 20),
        (9, 10, 1, 10),
        (10, 25, 3, 23),
        (4, 50, 4, 50),
        (4, 80, 4, 50),
        (4, 100, 4, 50),
        (0, 5, 1, 100),
    ],
    ids=[
        "zero",
        "one-percent-rounds-up-to-a-pod",
        "exact-fifth",
        "exact-tenth",
        "nearest-share",
        "half",
        "capped-at-half",
        "full-capped",
        "no-primary",
    ],
)
def test_achievable_split(primary_replicas, weight, canary_replicas, actual):
    split = replica_ratio.achievable_split(primary_replicas=primary_replicas, weight=weight)

    assert split.canary_replicas == canary_replicas
    assert split.weight == actual


def test_weight_out_of_range_is_rejected():
    with pytest.raises(ValueError, match="0..100"):
        replica_ratio.achievable_split(primary_replicas=4, weight=101)
