"""The local Kubernetes control plane for `cluster` tests: asset lookup, PKI, processes, pytest fixtures."""
