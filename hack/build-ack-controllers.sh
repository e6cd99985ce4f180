#!/usr/bin/env bash
# Builds the ACK (AWS Controllers for Kubernetes) controllers named in hack/ack-versions.env from their pinned
# sources into a cache outside the repository, with each controller's CRDs beside it. A controller is rebuilt only
# when its pin, or the pin of an ACK module built into it, changes. Prints the directory that holds the binaries
# (<dir>/<name>-controller) and the CRDs (<dir>/crds/<name>-controller/*.yaml, <dir>/crds/common/*.yaml).
#
# Sources: $AENV_ACK_SOURCES, a directory of <name>.tar.gz archives, each checked against its pinned sha256;
# otherwise a shallow clone of each pinned tag from github.com/aws-controllers-k8s, checked against its pinned commit.
# The Go module proxy does not serve the ACK modules, so all of them are unpacked side by side and every controller's
# go.mod gets a `replace` of each ACK module it requires (directly or not) to ../<name>.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=ack-versions.env
source "$here/ack-versions.env"
cache="${AENV_CACHE:-$HOME/.cache/aenv}"
sources="${AENV_ACK_SOURCES:-}"
export CGO_ENABLED=0 GOFLAGS="-mod=mod -trimpath -buildvcs=false" GOTOOLCHAIN=local
org=github.com/aws-controllers-k8s

log() { echo "build-ack-controllers: $*" >&2; }
die() { log "error: $*"; exit 1; }

declare -A TAG=() COMMIT=() SUM=()
while read -r name tag commit sum; do
  [[ -n "$name" ]] || continue
  TAG[$name]="$tag" COMMIT[$name]="$commit" SUM[$name]="$sum"
done <<< "$ACK_PINS"

pin() { echo "$1 ${TAG[$1]-} ${COMMIT[$1]-} ${SUM[$1]-}"; }
part_dir() { echo "$cache/parts/ack/$1-${TAG[$1]}-${COMMIT[$1]:0:12}"; }

# A part is current when it is complete and every pin it was built with is still the pin.
current() {
  local out line
  out="$(part_dir "$1")"
  [[ -f "$out/pins" && -d "$out/crds" ]] || return 1
  [[ "$1" == runtime || -x "$out/$1" ]] || return 1
  while read -r line; do
    [[ "$line" == "$(pin "${line%% *}")" ]] || return 1
  done < "$out/pins"
}

src="$cache/src/ack"

# Unpack (or clone) the pinned source of $1 into $src/$1.
fetch() {
  local name="$1" tag="${TAG[$1]}" commit="${COMMIT[$1]}"
  if [[ -n "$sources" ]]; then
    local archive="$sources/$name.tar.gz" got
    [[ -f "$archive" ]] || die "$archive is missing (AENV_ACK_SOURCES=$sources)"
    got="$(sha256sum "$archive" | cut -d' ' -f1)"
    [[ "$got" == "${SUM[$name]}" ]] \
      || die "$archive has sha256 $got, but hack/ack-versions.env pins ${SUM[$name]} ($name $tag $commit)"
    tar -xzf "$archive" -C "$src"
    [[ -f "$src/$name/go.mod" ]] || die "$archive does not hold $name/go.mod"
  else
    local url="https://$org/$name"
    git clone -q --depth 1 --branch "$tag" "$url" "$src/$name" \
      || die "cannot clone $url at $tag; set AENV_ACK_SOURCES to a directory of the pinned source archives"
    # The pinned commit may come after its tag: fetch it by id.
    if [[ "$(git -C "$src/$name" rev-parse HEAD)" != "$commit" ]]; then
      git -C "$src/$name" fetch -q --depth 1 origin "$commit" && git -C "$src/$name" checkout -q --detach FETCH_HEAD \
        || die "cannot fetch commit $commit of $url"
    fi
    [[ "$(git -C "$src/$name" rev-parse HEAD)" == "$commit" ]] || die "$url at $tag is not commit $commit"
  fi
}

fetched=false
fetch_all() {
  $fetched && return
  log "unpacking the pinned ACK sources into $src (${sources:-cloning from https://$org});" \
    "a cold build of all controllers takes about ten minutes on two cores"
  rm -rf "$src"
  mkdir -p "$src"
  local name
  for name in "${!TAG[@]}"; do fetch "$name"; done
  fetched=true
}

# The pinned ACK modules $1 requires, directly or through another pinned ACK module.
ack_closure() {
  local -A seen=()
  local queue=("$1") name dep
  while ((${#queue[@]})); do
    name="${queue[0]}" queue=("${queue[@]:1}")
    for dep in $(grep -oE "$org/[A-Za-z0-9._-]+" "$src/$name/go.mod" | sed "s#^$org/##" | sort -u); do
      [[ "$dep" != "$1" && -n "${TAG[$dep]-}" && -z "${seen[$dep]-}" ]] || continue
      seen[$dep]=1
      queue+=("$dep")
    done
  done
  printf '%s\n' "${!seen[@]}" | sort
}

# Copy the *.yaml of directory $1 into $2 (made).
copy_crds() {
  mkdir -p "$2"
  compgen -G "$1/*.yaml" > /dev/null || die "no CRDs in $1"
  cp "$1"/*.yaml "$2/"
}

build_runtime_crds() {
  current runtime && return
  fetch_all
  local out tmp
  out="$(part_dir runtime)" tmp="$(part_dir runtime).tmp"
  rm -rf "$tmp"
  copy_crds "$src/runtime/config/crd/bases" "$tmp/crds"
  pin runtime > "$tmp/pins"
  rm -rf "$out" && mv "$tmp" "$out"
}

build_controller() {
  local name="$1"
  current "$name" && return
  fetch_all
  local dir="$src/$name" out tmp deps dep module started
  out="$(part_dir "$name")" tmp="$(part_dir "$name").tmp"
  deps="$(ack_closure "$name")"
  module="$(awk '$1 == "module" {print $2; exit}' "$dir/go.mod")"
  log "building $name ${TAG[$name]} with $(echo "$deps" | tr '\n' ' ')"
  started=$SECONDS
  rm -rf "$tmp" && mkdir -p "$tmp"
  # Other controllers read this go.mod as a dependency: keep it as pinned once this build is done.
  cp "$dir/go.mod" "$dir/go.mod.pinned" && cp "$dir/go.sum" "$dir/go.sum.pinned"
  {
    echo
    for dep in $deps; do echo "replace $org/$dep => ../$dep"; done
  } >> "$dir/go.mod"
  local status=0
  (cd "$dir" && go mod tidy && go build -o "$tmp/$name" \
    -ldflags "-s -w -X $module/pkg/version.GitVersion=${TAG[$name]} -X $module/pkg/version.GitCommit=${COMMIT[$name]}" \
    ./cmd/controller) || status=$?
  mv "$dir/go.mod.pinned" "$dir/go.mod" && mv "$dir/go.sum.pinned" "$dir/go.sum"
  ((status == 0)) || die "building $name failed (sources in $dir)"
  copy_crds "$dir/config/crd/bases" "$tmp/crds"
  { pin "$name"; for dep in $deps; do pin "$dep"; done; } > "$tmp/pins"
  rm -rf "$out" && mv "$tmp" "$out"
  log "built $name in $((SECONDS - started))s ($(du -h "$out/$name" | cut -f1))"
}

mkdir -p "$cache/parts/ack"
# One build at a time: the sources are unpacked into one shared directory.
exec 9> "$cache/parts/ack/.lock"
flock 9

for name in runtime $ACK_CONTROLLERS; do
  [[ -n "${TAG[$name]-}" ]] || die "$name is not pinned in hack/ack-versions.env"
done
build_runtime_crds
for name in $ACK_CONTROLLERS; do build_controller "$name"; done

bin="$cache/bin/ack-$(printf '%s\n%s\n' "$ACK_PINS" "$ACK_CONTROLLERS" | sha256sum | cut -c1-12)"
if [[ ! -d "$bin" ]]; then
  # Made aside and renamed, so that a reader never sees half of it; parts are rebuilt in place under the same names.
  rm -rf "$bin.tmp" && mkdir -p "$bin.tmp/crds"
  ln -s "$(part_dir runtime)/crds" "$bin.tmp/crds/common"
  for name in $ACK_CONTROLLERS; do
    ln -s "$(part_dir "$name")/$name" "$bin.tmp/$name"
    ln -s "$(part_dir "$name")/crds" "$bin.tmp/crds/$name"
  done
  mv "$bin.tmp" "$bin"
fi
echo "$bin"
