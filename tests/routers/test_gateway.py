"""Gateway router helpers: finding canaryd's backendRefs and patching only their weights."""

from __future__ import annotations

import copy

import jsonpatch
import pytest

from canaryd.routers import gateway, protocol


def route(*rules):
    return {
        "metadata": {"namespace": "shop", "name": "web"},
        "spec": {"parentRefs": [{"name": "gw"}], "rules": list(rules)},
    }


API_RULE = {
    "matches": [{"path": {"type": "PathPrefix", "value": "/api"}}],
    "filters": [
        {"type": "RequestHeaderModifier", "requestHeaderModifier": {"add": [{"name": "x", "value": "1"}]}}
    ],
    "backendRefs": [
        {"name": "other", "port": 80, "weight": 7},
        {"name": "web-primary", "port": 80, "weight": 100},
        {"name": "web-canary", "port": 80},
    ],
}
STATIC_RULE = {"backendRefs": [{"name": "static", "port": 80}]}


def test_patch_changes_only_the_named_weights():
    original = route(STATIC_RULE, API_RULE)
    pairs = gateway.find_backends(original, primary="web-primary", canary="web-canary")

    patched = jsonpatch.apply_patch(original, gateway.weight_patch(pairs, weight=5))

    expected = copy.deepcopy(original)
    expected["spec"]["rules"][1]["backendRefs"][1]["weight"] = 95
    expected["spec"]["rules"][1]["backendRefs"][2]["weight"] = 5
    assert patched == expected


def test_patch_writes_zero_explicitly():
    original = route(API_RULE)
    pairs = gateway.find_backends(original, primary="web-primary", canary="web-canary")

    patched = jsonpatch.apply_patch(original, gateway.weight_patch(pairs, weight=0))

    assert patched["spec"]["rules"][0]["backendRefs"][2]["weight"] == 0
    assert patched["spec"]["rules"][0]["backendRefs"][1]["weight"] == 100


def test_patch_fails_when_the_list_was_reordered():
    original = route(API_RULE)
    pairs = gateway.find_backends(original, primary="web-primary", canary="web-canary")
    reordered = copy.deepcopy(original)
    reordered["spec"]["rules"][0]["backendRefs"].reverse()

    with pytest.raises(jsonpatch.JsonPatchTestFailed):
        jsonpatch.apply_patch(reordered, gateway.weight_patch(pairs, weight=5))


@pytest.mark.parametrize(
    ("refs", "message"),
    [
        ([{"name": "web-primary"}], "found 1 and 0"),
        ([{"name": "web-primary"}, {"name": "web-canary"}, {"name": "web-canary"}], "found 1 and 2"),
        ([{"name": "static"}], "has no rule with backendRefs"),
    ],
    ids=["canary-missing", "canary-twice", "neither"],
)
def test_find_backends_rejects_incomplete_rules(refs, message):
    with pytest.raises(protocol.RouterError, match=message):
        gateway.find_backends(route({"backendRefs": refs}), primary="web-primary", canary="web-canary")


def test_canary_weight_reads_the_share_with_default_weights():
    original = route(API_RULE)
    pairs = gateway.find_backends(original, primary="web-primary", canary="web-canary")

    assert gateway.canary_weight(original, pairs) == 1, "a missing weight counts as 1 of 101"
