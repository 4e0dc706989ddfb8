"""Kubernetes API access for the controller: requests, caches, work queue, Events, leader election.

Layer 2 (adapters). Everything here speaks JSON dicts over the API server's REST paths through the
official `kubernetes` client's connection handling, so one code path serves built-in kinds,
canaryd's own CRD and Gateway API objects alike.
"""
