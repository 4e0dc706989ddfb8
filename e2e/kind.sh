#!/usr/bin/env bash
# Creates or deletes the kind cluster the e2e suite runs on where a Docker engine exists.
#
#   e2e/kind.sh create KUBECONFIG_PATH   create the cluster (reusing one of the same name), write its
#                                        kubeconfig, and load the canaryd image built from ./Dockerfile
#   e2e/kind.sh delete                   delete the cluster
#
# Exit code 2 means "no Docker engine here": the caller skips the kind provider.
# kind comes from the Go module proxy (go install) when it is not on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

cluster_name="${CANARYD_KIND_CLUSTER:-canaryd-e2e}"
kind_version="${CANARYD_KIND_VERSION:-v0.33.0}"
image="${CANARYD_E2E_IMAGE:-canaryd:e2e}"
tools_dir="${XDG_CACHE_HOME:-$HOME/.cache}/canaryd/tools"

log() { echo "[kind.sh] $*" >&2; }

if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then
  log "no Docker engine is reachable (docker info failed); the kind provider needs one"
  exit 2
fi

kind_binary="$(command -v kind || true)"
if [ -z "$kind_binary" ]; then
  kind_binary="$tools_dir/kind"
  if [ ! -x "$kind_binary" ]; then
    log "installing kind ${kind_version} into $tools_dir"
    GOBIN="$tools_dir" GOTOOLCHAIN=local CGO_ENABLED=0 go install "sigs.k8s.io/kind@${kind_version}"
  fi
fi

case "${1:-}" in
  create)
    kubeconfig="${2:?usage: e2e/kind.sh create KUBECONFIG_PATH}"
    if "$kind_binary" get clusters | grep -qx "$cluster_name"; then
      log "reusing kind cluster $cluster_name"
    else
      log "creating kind cluster $cluster_name"
      "$kind_binary" create cluster --name "$cluster_name" --wait 180s
    fi
    "$kind_binary" get kubeconfig --name "$cluster_name" >"$kubeconfig"
    if [ -f Dockerfile ]; then
      log "building $image and loading it into the cluster"
      docker build --quiet -t "$image" . >&2
      "$kind_binary" load docker-image "$image" --name "$cluster_name"
    else
      log "no Dockerfile: the in-cluster controller cannot start until one exists"
    fi
    ;;
  delete)
    "$kind_binary" delete cluster --name "$cluster_name"
    ;;
  *)
    echo "usage: e2e/kind.sh create KUBECONFIG_PATH | delete" >&2
    exit 64
    ;;
esac
