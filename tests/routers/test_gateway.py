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


def test_route_without_baseline_keeps_two_backends():
    original = route(STATIC_RULE, API_RULE)
    pairs = gateway.find_backends(original, primary="web-primary", canary="web-canary")

    patch = gateway.baseline_patch(original, pairs, baseline="web-baseline", weight=0)
    patched = jsonpatch.apply_patch(original, patch + gateway.weight_patch(pairs, weight=0))

    assert patch == [], "a route that never routed to a baseline gains no backendRef"
    assert [ref["name"] for ref in patched["spec"]["rules"][1]["backendRefs"]] == [
        "other",
        "web-primary",
        "web-canary",
    ]


def test_baseline_backend_is_appended_with_its_weight():
    original = route(STATIC_RULE, API_RULE)
    pairs = gateway.find_backends(original, primary="web-primary", canary="web-canary")

    patch = gateway.baseline_patch(original, pairs, baseline="web-baseline", weight=20)
    patched = jsonpatch.apply_patch(original, patch + gateway.weight_patch(pairs, weight=20, baseline=20))

    expected = copy.deepcopy(original)
    refs = expected["spec"]["rules"][1]["backendRefs"]
    refs[1]["weight"] = 60
    refs[2]["weight"] = 20
    refs.append({"name": "web-baseline", "port": 80, "weight": 20})
    assert patched == expected
    assert gateway.canary_weight(patched, pairs, baseline="web-baseline") == 20


def test_baseline_backend_is_set_to_zero_in_place():
    with_baseline = copy.deepcopy(API_RULE)
    with_baseline["backendRefs"].append({"name": "web-baseline", "port": 80, "weight": 20})
    original = route(with_baseline)
    pairs = gateway.find_backends(original, primary="web-primary", canary="web-canary")

    patch = gateway.baseline_patch(original, pairs, baseline="web-baseline", weight=0)
    patched = jsonpatch.apply_patch(original, patch + gateway.weight_patch(pairs, weight=0, baseline=0))

    refs = patched["spec"]["rules"][0]["backendRefs"]
    assert [ref["name"] for ref in refs] == ["other", "web-primary", "web-canary", "web-baseline"]
    assert [ref.get("weight") for ref in refs[1:]] == [100, 0, 0]


def test_baseline_append_fails_when_the_list_changed():
    original = route(API_RULE)
    pairs = gateway.find_backends(original, primary="web-primary", canary="web-canary")
    patch = gateway.baseline_patch(original, pairs, baseline="web-baseline", weight=5)
    changed = copy.deepcopy(original)
    changed["spec"]["rules"][0]["backendRefs"].append({"name": "web-baseline", "port": 80})

    with pytest.raises(jsonpatch.JsonPatchTestFailed):
        jsonpatch.apply_patch(changed, patch)


def test_duplicate_baseline_backend_is_rejected():
    doubled = copy.deepcopy(API_RULE)
    doubled["backendRefs"] += [{"name": "web-baseline"}, {"name": "web-baseline"}]
    original = route(doubled)
    pairs = gateway.find_backends(original, primary="web-primary", canary="web-canary")

    with pytest.raises(protocol.RouterError, match="'web-baseline' 2 times"):
        gateway.baseline_patch(original, pairs, baseline="web-baseline", weight=5)


def test_canary_weight_counts_the_baseline_only_when_asked():
    with_baseline = copy.deepcopy(API_RULE)
    with_baseline["backendRefs"][1]["weight"] = 80
    with_baseline["backendRefs"][2]["weight"] = 10
    with_baseline["backendRefs"].append({"name": "web-baseline", "port": 80, "weight": 10})
    original = route(with_baseline)
    pairs = gateway.find_backends(original, primary="web-primary", canary="web-canary")

    assert gateway.canary_weight(original, pairs, baseline="web-baseline") == 10
    assert gateway.canary_weight(original, pairs) == 11, "without a baseline, 10 of 90"
