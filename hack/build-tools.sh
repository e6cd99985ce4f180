#!/usr/bin/env bash
# Builds the Go tools that `make lint` and the chart's tests use, from their Go modules (through the Go module
# proxy), into a cache outside the repository: helm (renders and lints charts/aenv) and actionlint (checks
# .github/workflows/). Each is rebuilt only when its pin changes. Prints the directory holding both binaries.
set -euo pipefail
HELM_VERSION=v3.22.0
ACTIONLINT_VERSION=v1.7.12
cache="${AENV_CACHE:-$HOME/.cache/aenv}"
export CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false" GOTOOLCHAIN=local
bin="$cache/bin/tools-helm-$HELM_VERSION-actionlint-$ACTIONLINT_VERSION"
mkdir -p "$bin"

# build NAME VERSION PACKAGE [LDFLAGS]: go install PACKAGE@VERSION into its own part directory, once.
build() {
  local name="$1" version="$2" package="$3" ldflags="${4:-}" out="$cache/parts/$1-$2"
  if [[ ! -x "$out/$name" ]]; then
    echo "build-tools: building $name $version" >&2
    mkdir -p "$out"
    GOBIN="$out" go install -ldflags "-s -w $ldflags" "$package@$version"
  fi
  ln -sf "$out/$name" "$bin/$name"
}

build helm "$HELM_VERSION" helm.sh/helm/v3/cmd/helm "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
build actionlint "$ACTIONLINT_VERSION" github.com/rhysd/actionlint/cmd/actionlint
echo "$bin"
