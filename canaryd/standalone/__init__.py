"""Standalone mode: one rollout through HAProxy outside Kubernetes, with the same core, judge and metrics."""
