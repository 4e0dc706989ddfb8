#!/usr/bin/env bash
# Builds the local Kubernetes control plane the `cluster` tests run on, from Go modules only:
# kube-apiserver, etcd, kwok, kubectl, kube-controller-manager and kube-scheduler, at the versions pinned
# in hack/control-plane/versions.env, into
#   ${CANARYD_CONTROL_PLANE_CACHE:-~/.cache/canaryd/control-plane}/<versions>/bin
# and the Gateway API standard CRDs into <cache>/crds/gateway-api-<version>/.
#
# Idempotent: a binary already in place is skipped, so a second run takes under a second. The first build
# took about 8 minutes on a 2-core machine with empty Go caches. kube-apiserver, the most important
# binary, comes first.
#
# Usage: hack/build-control-plane.sh [COMPONENT...]   (default: all, in the order above)
#        hack/build-control-plane.sh --print-bin-dir   (prints where the binaries go, builds nothing)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=control-plane/versions.env
source "$here/control-plane/versions.env"

cache_root="${CANARYD_CONTROL_PLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/canaryd/control-plane}"
tag="kubernetes-${KUBERNETES_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}"
dest="$cache_root/$tag"
bin_dir="$dest/bin"
src_dir="$dest/src"
crd_dir="$cache_root/crds/gateway-api-${GATEWAY_API_VERSION}"

if [ "${1:-}" = "--print-bin-dir" ]; then
  echo "$bin_dir"
  exit 0
fi

all_components=(kube-apiserver etcd kwok kubectl kube-controller-manager kube-scheduler gateway-api-crds)
if [ "$#" -gt 0 ]; then
  components=("$@")
else
  components=("${all_components[@]}")
fi

# The machine's own Go, no cgo (static binaries, no C toolchain needed), no paths of this machine in the
# binaries, and two parallel compile jobs: the machine has two cores shared with other work.
export GOTOOLCHAIN=local
export CGO_ENABLED=0
export GOFLAGS="-trimpath -buildvcs=false"
build_jobs="${CANARYD_BUILD_JOBS:-2}"

started_at=$(date +%s)
log() {
  local elapsed=$(( $(date +%s) - started_at ))
  printf '[build-control-plane %4dm%02ds] %s\n' $((elapsed / 60)) $((elapsed % 60)) "$*"
}

die() {
  echo "build-control-plane: $*" >&2
  exit 1
}

command -v go >/dev/null 2>&1 || die "no 'go' on PATH; install Go 1.25 or newer and run this script again"
mkdir -p "$bin_dir" "$src_dir"

# One build at a time per cache: CI and a developer shell may start this script at once.
exec 9>"$cache_root/.build.lock"
if ! flock -n 9; then
  log "another build holds $cache_root/.build.lock; waiting for it"
  flock 9
fi

# Prints one field of `go mod download -json MODULE@VERSION` (Dir, GoMod, ...), downloading if needed.
module_field() {
  local module="$1" field="$2"
  go mod download -json "$module" | python3 -c '
import json, sys
info = json.load(sys.stdin)
if info.get("Error"):
    sys.exit("go mod download " + sys.argv[2] + ": " + info["Error"])
print(info[sys.argv[1]])
' "$field" "$module"
}

# The `go` directive of a go.mod file, for example 1.25.0.
go_directive() {
  awk '$1 == "go" { print $2; exit }' "$1"
}

# Writes the kubernetes wrapper module from its template and the release's own go.mod.
prepare_kubernetes_module() {
  local module_dir="$src_dir/kubernetes"
  [ -f "$module_dir/go.mod" ] && return 0

  log "preparing the k8s.io/kubernetes ${KUBERNETES_VERSION} wrapper module"
  local upstream_mod
  upstream_mod="$(module_field "k8s.io/kubernetes@${KUBERNETES_VERSION}" GoMod)"

  # Staging modules are released as v0.<minor>.<patch> alongside Kubernetes v1.<minor>.<patch>.
  local staging_version="v0.${KUBERNETES_VERSION#v1.}"
  local replaces
  replaces="$(awk -v v="$staging_version" '
    $2 == "=>" && $3 ~ /^\.\/staging\// { printf "\t%s => %s %s\n", $1, $1, v }
  ' "$upstream_mod")"
  [ -n "$replaces" ] || die "found no staging replace lines in $upstream_mod; has the layout of k8s.io/kubernetes changed?"

  # The release's godebug settings change runtime behaviour (TLS, x509); keep them identical.
  local godebug
  godebug="$(awk '
    /^godebug \(/ { block = 1 }
    block { print; if ($0 ~ /^\)/) block = 0; next }
    /^godebug / { print }
  ' "$upstream_mod")"

  mkdir -p "$module_dir.tmp"
  python3 - "$here/control-plane/kubernetes.go.mod.in" "$module_dir.tmp/go.mod" <<PY
import sys
template = open(sys.argv[1]).read()
text = (template
        .replace("@GO_DIRECTIVE@", "$(go_directive "$upstream_mod")")
        .replace("@GODEBUG@", """$godebug""")
        .replace("@KUBERNETES_VERSION@", "$KUBERNETES_VERSION")
        .replace("@STAGING_REPLACES@", """$replaces"""))
open(sys.argv[2], "w").write(text)
PY
  rm -rf "$module_dir"
  mv "$module_dir.tmp" "$module_dir"
  log "wrapper module written: $module_dir/go.mod ($(echo "$replaces" | wc -l) staging replaces)"
}

prepare_etcd_module() {
  local module_dir="$src_dir/etcd"
  [ -f "$module_dir/go.mod" ] && return 0

  log "preparing the go.etcd.io/etcd/server/v3 ${ETCD_VERSION} wrapper module"
  local upstream_mod
  upstream_mod="$(module_field "go.etcd.io/etcd/server/v3@${ETCD_VERSION}" GoMod)"
  mkdir -p "$module_dir"
  sed -e "s|@GO_DIRECTIVE@|$(go_directive "$upstream_mod")|" \
      -e "s|@ETCD_VERSION@|${ETCD_VERSION}|" \
      "$here/control-plane/etcd.go.mod.in" >"$module_dir/go.mod.tmp"
  mv "$module_dir/go.mod.tmp" "$module_dir/go.mod"
}

# -X flags that make `/version` and `kubectl version` report the release instead of v0.0.0.
kubernetes_ldflags() {
  local minor_patch="${KUBERNETES_VERSION#v1.}"
  local minor="${minor_patch%%.*}"
  local build_date
  build_date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  local flags="-s -w"
  local package
  for package in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $package.gitVersion=${KUBERNETES_VERSION}"
    flags+=" -X $package.gitMajor=1 -X $package.gitMinor=${minor}"
    flags+=" -X $package.gitTreeState=clean -X $package.buildDate=${build_date}"
  done
  echo "$flags"
}

# Builds one main package inside a wrapper module into bin/NAME; the binary appears only when complete.
build_in_module() {
  local name="$1" module_dir="$2" package="$3" ldflags="$4"
  log "building $name ($package)"
  (cd "$module_dir" && go build -mod=mod -p "$build_jobs" -ldflags "$ldflags" -o "$bin_dir/.$name.partial" "$package")
  mv "$bin_dir/.$name.partial" "$bin_dir/$name"
  log "built $name"
}

build_component() {
  local name="$1"
  if [ "$name" != gateway-api-crds ] && [ -x "$bin_dir/$name" ]; then
    log "$name already built, skipping"
    return 0
  fi

  case "$name" in
    kube-apiserver|kube-controller-manager|kube-scheduler|kubectl)
      prepare_kubernetes_module
      build_in_module "$name" "$src_dir/kubernetes" "k8s.io/kubernetes/cmd/$name" "$(kubernetes_ldflags)"
      ;;
    etcd)
      prepare_etcd_module
      build_in_module etcd "$src_dir/etcd" go.etcd.io/etcd/server/v3 "-s -w"
      ;;
    kwok)
      # kwok has no replace directives, so `go install module@version` builds it as released.
      log "building kwok (sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION})"
      local gobin="$bin_dir/.kwok.gobin"
      rm -rf "$gobin"
      GOBIN="$gobin" go install -p "$build_jobs" \
        -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}" \
        "sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}"
      mv "$gobin/kwok" "$bin_dir/kwok"
      rm -rf "$gobin"
      log "built kwok"
      ;;
    gateway-api-crds)
      if [ -d "$crd_dir" ]; then
        log "Gateway API ${GATEWAY_API_VERSION} CRDs already extracted, skipping"
        return 0
      fi
      log "extracting the Gateway API ${GATEWAY_API_VERSION} standard CRDs from the module"
      local module_dir
      module_dir="$(module_field "sigs.k8s.io/gateway-api@${GATEWAY_API_VERSION}" Dir)"
      mkdir -p "$crd_dir.tmp"
      cp "$module_dir"/config/crd/standard/*.yaml "$crd_dir.tmp/"
      chmod -R u+w "$crd_dir.tmp"
      mv "$crd_dir.tmp" "$crd_dir"
      log "Gateway API CRDs in $crd_dir"
      ;;
    *)
      die "unknown component '$name'; known: ${all_components[*]}"
      ;;
  esac
}

# Records what is in the cache, with each binary's own account of its version.
write_versions_file() {
  local file="$dest/versions.txt"
  {
    echo "# written by hack/build-control-plane.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "go=$(go env GOVERSION)"
    sed -n 's/^\([A-Z_]*_VERSION=.*\)$/\1/p' "$here/control-plane/versions.env"
    local name
    for name in kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok; do
      [ -x "$bin_dir/$name" ] || { echo "$name=missing"; continue; }
      case "$name" in
        kubectl) echo "$name=$("$bin_dir/$name" version --client 2>&1 | head -1)" ;;
        etcd) echo "$name=$("$bin_dir/$name" --version 2>&1 | head -1)" ;;
        *) echo "$name=$("$bin_dir/$name" --version 2>&1 | head -1)" ;;
      esac
    done
  } >"$file.tmp"
  mv "$file.tmp" "$file"
  log "versions recorded in $file"
}

log "control plane ${tag} -> ${bin_dir} ($(go env GOVERSION), -p ${build_jobs})"
for component in "${components[@]}"; do
  build_component "$component"
done
write_versions_file
log "done"
