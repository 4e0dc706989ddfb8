# The `cluster`, `kube_api_client`, `kubeconfig`, `workload_cluster` and `namespace` fixtures.
pytest_plugins = ["tests.cluster.plugin"]
