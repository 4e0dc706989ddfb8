"""Metrics sources: read canary and control SLIs from Prometheus and hand them to the judge.

Layer 2 (adapters doing I/O). `protocol` draws the seam, `prometheus` implements it on
prometheus-api-client, `presets` and `templates` build the PromQL, `collect` turns query results
into `canaryd.observations.Comparison`, and `outcomes` holds the typed failures every caller sees.
"""
