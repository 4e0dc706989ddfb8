"""Built-in SLI presets, one module each, and the lookup by name.

A preset writes the PromQL for one arm's requests, errors and latency buckets
(`canaryd.metrics.protocol.Preset`). Users who need other metrics write a metric template
(`canaryd.metrics.templates`) instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from canaryd.metrics import outcomes, protocol
from canaryd.metrics.presets import envoy, http, ingress_nginx, istio

# name -> (preset class, settings model)
_PRESETS: dict[str, tuple[type, type]] = {
    http.NAME: (http.HttpPreset, http.HttpPresetSettings),
    istio.NAME: (istio.IstioPreset, istio.IstioPresetSettings),
    envoy.NAME: (envoy.EnvoyPreset, envoy.EnvoyPresetSettings),
    ingress_nginx.NAME: (ingress_nginx.IngressNginxPreset, ingress_nginx.IngressNginxPresetSettings),
}

KNOWN_PRESETS = tuple(_PRESETS)


def build_preset(name: str, settings: Mapping[str, Any] | None = None) -> protocol.Preset:
    """Return the preset called `name` configured with `settings`; raise on unknown names or keys."""
    if name not in _PRESETS:
        raise outcomes.ConfigurationError(
            f"unknown metrics preset {name!r}; known presets: {', '.join(KNOWN_PRESETS)}, "
            "or use a MetricTemplate"
        )
    preset_class, settings_model = _PRESETS[name]
    try:
        parsed = settings_model.model_validate(dict(settings or {}))
    except ValueError as error:
        raise outcomes.ConfigurationError(f"invalid settings for metrics preset {name!r}: {error}") from error
    return preset_class(settings=parsed)
