# The real control plane (`cluster`, `kube_api_client`, `kubeconfig`, `workload_cluster`, `namespace`)
# and the real Prometheus with its test services (`prometheus_binary`, `prometheus_harness`).
pytest_plugins = ["tests.cluster.plugin", "tests.harness.fixtures"]
