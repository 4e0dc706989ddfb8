"""End-to-end suite: install canaryd from manifests/ into a cluster and drive rollouts through it."""
