#!/usr/bin/env bash
# Builds the Argo Rollouts controller, a peer that benchmarks/peers_rollouts.py measures aenv against, from the Go
# module proxy at a pinned version into a cache outside the repository, with its CRDs beside it. A benchmark input
# only: `make setup` and CI do not build it. Rebuilt only when the pin changes. Prints the directory that holds
# rollouts-controller and crds/*.yaml.
#
# Argo Rollouts' go.mod pins every k8s.io staging module with `replace` directives, which only apply in the main
# module: the build runs in a wrapper module that repeats them. Its go line needs a newer Go than the local one, so
# GOTOOLCHAIN names a toolchain the module proxy serves.
set -euo pipefail
ARGO_ROLLOUTS_VERSION=v1.10.2
GO_TOOLCHAIN=go1.27.3
cache="${AENV_CACHE:-$HOME/.cache/aenv}"
module=github.com/argoproj/argo-rollouts
out="$cache/parts/argo-rollouts-$ARGO_ROLLOUTS_VERSION"
dir="$cache/src/argo-rollouts-$ARGO_ROLLOUTS_VERSION"
export CGO_ENABLED=0 GOFLAGS="-mod=mod -trimpath -buildvcs=false" GOTOOLCHAIN="$GO_TOOLCHAIN"

log() { echo "build-argo-rollouts: $*" >&2; }

if [[ -x "$out/rollouts-controller" && -n "$(ls "$out/crds" 2>/dev/null)" ]]; then
  echo "$out"
  exit 0
fi
log "building Argo Rollouts $ARGO_ROLLOUTS_VERSION with $GO_TOOLCHAIN (cold build: about 4 minutes on two cores)"
rm -rf "$dir" "$out"
mkdir -p "$dir" "$out/crds"
cd "$dir"
printf 'module aenv.dev/peers/argorollouts\n\ngo 1.24\n' > go.mod
info="$(go mod download -json "$module@$ARGO_ROLLOUTS_VERSION")"
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$info" "$1"; }
upstream_mod="$(field GoMod)"
upstream_dir="$(field Dir)"
go_line="$(go mod edit -json "$upstream_mod" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Go"])')"
go mod edit -go="$go_line" -require="$module@$ARGO_ROLLOUTS_VERSION"
# Repeat upstream's module replacements (local-path ones cannot apply outside its tree).
go mod edit -json "$upstream_mod" | python3 -c '
import json, sys
for r in json.load(sys.stdin).get("Replace") or []:
    old, new = r["Old"], r["New"]
    if "Version" not in new:
        continue
    lhs = old["Path"] + ("@" + old["Version"] if old.get("Version") else "")
    print("-replace=" + lhs + "=" + new["Path"] + "@" + new["Version"])
' | xargs go mod edit
# A build-tagged import lets `go mod tidy` resolve the controller's dependencies; the build names it by path.
printf '//go:build tools\n\npackage main\n\nimport _ "%s/cmd/rollouts-controller"\n' "$module" > tools.go
go mod tidy
go build -o "$out/rollouts-controller" -ldflags "-s -w" "$module/cmd/rollouts-controller"
cp "$upstream_dir"/manifests/crds/*-crd.yaml "$out/crds/"
chmod -R u+w "$out"
echo "$ARGO_ROLLOUTS_VERSION $GO_TOOLCHAIN" > "$out/version"
echo "$out"
