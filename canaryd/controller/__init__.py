"""The Kubernetes controller behind `canaryd run`.

Layer 3 (engine). `daemon` wires caches, the work queue, leader election, health and metrics;
`reconcile` runs one pass over one Deployment through the decision core; `workloads`, `records`,
`traffic` and `analysis` are the adapters a pass uses; `names` holds the names and labels canaryd gives
the objects it creates.
"""
