#!/usr/bin/env bash
# Installs everything aenv needs on a fresh machine and is quick when nothing changed:
# Debian packages, a Python virtual environment from requirements.lock, and the local control plane.
# Everything built goes to $AENV_CACHE (default ~/.cache/aenv), never into the repository.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
cache="${AENV_CACHE:-$HOME/.cache/aenv}"
mkdir -p "$cache"
log() { echo "setup: $*" >&2; }

# Debian packages the local environment and the tests use (Prometheus: the analysis provider's real server;
# Lua: runs the chart's ArgoCD health check; Redis and PostgreSQL: the local data plane behind the emulator's
# ElastiCache and RDS).
apt_packages=(ca-certificates procps git make prometheus lua5.4 redis-server postgresql)
missing=()
for p in "${apt_packages[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  sudo_cmd=(); [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Toolchains.
command -v go >/dev/null || { log "Go 1.25 or newer is required to build the control plane and the ACK controllers"; exit 1; }
python="${PYTHON:-python3}"
"$python" -c 'import sys; assert sys.version_info >= (3, 11), sys.version' \
  || { log "Python 3.11 or newer is required"; exit 1; }

# Python packages, pinned. The project itself runs from operator/ (PYTHONPATH), so one venv serves any checkout.
venv="$cache/venv"
stamp="$(cat "$repo/requirements.lock" | sha256sum | cut -c1-16)"
if [[ "$(cat "$venv/.aenv-stamp" 2>/dev/null)" != "$stamp" ]]; then
  if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c '' 2>/dev/null; then
    log "creating the Python environment in $venv"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check --upgrade pip
  fi
  log "installing the pinned Python packages (requirements.lock)"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$repo/requirements.lock"
  echo "$stamp" > "$venv/.aenv-stamp"
fi
# The reference workloads (workloads/*), for their tests: installed editable from this checkout, their dependencies
# being requirements.lock's. Again when the checkout or a workload's pyproject.toml changes.
workloads_stamp="$(cat "$repo"/workloads/*/pyproject.toml | { cat; echo "$repo"; } | sha256sum | cut -c1-16)"
if [[ "$(cat "$venv/.aenv-workloads-stamp" 2>/dev/null)" != "$workloads_stamp" ]]; then
  log "installing the reference workloads (workloads/*) into $venv"
  "$venv/bin/pip" install -q --disable-pip-version-check --no-deps \
    -e "$repo/workloads/common" -e "$repo/workloads/ws-gateway" -e "$repo/workloads/event-processor"
  echo "$workloads_stamp" > "$venv/.aenv-workloads-stamp"
fi

# The control plane: built once per pinned version set.
bash "$here/build-control-plane.sh" > "$cache/control-plane-bin"
# The ACK controllers and their CRDs: built once per pin (hack/ack-versions.env) from $AENV_ACK_SOURCES or a clone.
bash "$here/build-ack-controllers.sh" > "$cache/ack-bin"
bash "$here/build-tools.sh" > "$cache/tools-bin"  # helm and actionlint, for `make lint` and the chart's tests
log "ready: python $venv, control plane $(cat "$cache/control-plane-bin"), ACK controllers $(cat "$cache/ack-bin")"
