"""canaryd's own observability: structured logs, the controller's Prometheus metrics, health endpoints.

Layer 2 (adapters). `logging` configures structlog for every engine and tool; the other modules serve
the daemon's `/metrics`, `/healthz` and `/readyz`.
"""
