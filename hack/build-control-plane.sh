#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd, kwok and kwokctl
# from upstream Go modules into a cache outside the repository. Each part is rebuilt only when its
# pinned version (hack/versions.env) changes. Prints the directory holding the binaries.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
cache="${AENV_CACHE:-$HOME/.cache/aenv}"
export CGO_ENABLED=0 GOFLAGS="-mod=mod -trimpath -buildvcs=false" GOTOOLCHAIN=local
bin="$cache/bin/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION"
mkdir -p "$bin"

log() { echo "build-control-plane: $*" >&2; }

build_kubernetes() {
  local dir="$cache/src/kubernetes-$K8S_VERSION" out="$cache/parts/kubernetes-$K8S_VERSION"
  if [[ -x "$out/kube-apiserver" && -x "$out/kube-controller-manager" && -x "$out/kube-scheduler" && -x "$out/kubectl" ]]; then
    return
  fi
  log "building Kubernetes $K8S_VERSION (cold build: tens of minutes on two cores)"
  mkdir -p "$dir" "$out"
  local gomod minor
  gomod="$(cd "$dir" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')"
  minor="$(echo "$K8S_VERSION" | cut -d. -f2)"
  {
    echo "module aenv.dev/controlplane"
    echo
    echo "go 1.24"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    # Kubernetes requires its staging modules at v0.0.0; each maps to the published v0.X.Y.
    grep -oE '^\s*k8s\.io/[a-z0-9-]+ v0\.0\.0$' "$gomod" | awk -v v="v0.${K8S_VERSION#v1.}" '{print "replace " $1 " => " $1 " " v}'
  } > "$dir/go.mod"
  local pkg=k8s.io/component-base/version
  (cd "$dir" && go build -o "$out/" \
    -tags selinux,notest \
    -ldflags "-s -w -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl)
}

build_etcd() {
  local dir="$cache/src/etcd-$ETCD_VERSION" out="$cache/parts/etcd-$ETCD_VERSION"
  [[ -x "$out/etcd" ]] && return
  log "building etcd $ETCD_VERSION"
  mkdir -p "$dir" "$out"
  printf 'module aenv.dev/etcd\n\ngo 1.24\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" > "$dir/go.mod"
  (cd "$dir" && go build -o "$out/etcd" -ldflags "-s -w" go.etcd.io/etcd/server/v3)
}

build_kwok() {
  local out="$cache/parts/kwok-$KWOK_VERSION"
  [[ -x "$out/kwok" && -x "$out/kwokctl" ]] && return
  log "building kwok $KWOK_VERSION"
  mkdir -p "$out"
  GOBIN="$out" GOFLAGS="-trimpath -buildvcs=false" go install -ldflags "-s -w" \
    "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION"
}

build_etcd
build_kwok
build_kubernetes
for f in "$cache/parts/kubernetes-$K8S_VERSION"/* "$cache/parts/etcd-$ETCD_VERSION"/* "$cache/parts/kwok-$KWOK_VERSION"/*; do
  ln -sf "$f" "$bin/$(basename "$f")"
done
echo "$bin"
