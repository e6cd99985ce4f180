#!/usr/bin/env bash
# Builds helm from its Go module (through the Go module proxy) into a cache outside the repository, once per
# pinned version. `make lint` renders and lints charts/aenv with it; the RBAC tests render the chart with it.
# Prints the directory holding the binary.
set -euo pipefail
HELM_VERSION=v3.22.0
cache="${AENV_CACHE:-$HOME/.cache/aenv}"
export CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false" GOTOOLCHAIN=local
out="$cache/parts/helm-$HELM_VERSION"
if [[ ! -x "$out/helm" ]]; then
  echo "build-helm: building helm $HELM_VERSION" >&2
  mkdir -p "$out"
  pkg=helm.sh/helm/v3/internal/version
  GOBIN="$out" go install -ldflags "-s -w -X $pkg.version=$HELM_VERSION" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
fi
echo "$out"
