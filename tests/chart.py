"""Rendering charts/aenv with the helm that `make setup` builds (AENV_TOOLS_BIN, else the cache's tools-bin)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
CHART = REPO / "charts" / "aenv"
RBAC_KINDS = ("ClusterRole", "Role")


def helm() -> Path:
    given = os.environ.get("AENV_TOOLS_BIN")
    if not given:
        cache = Path(os.environ.get("AENV_CACHE", Path.home() / ".cache" / "aenv"))
        pointer = cache / "tools-bin"
        assert pointer.exists(), "helm is not built: run `make setup`"
        given = pointer.read_text().strip()
    return Path(given) / "helm"


def template(*args: str, release: str = "aenv", namespace: str = "aenv-system") -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(helm()), "template", release, str(CHART), "--namespace", namespace, *args],
                          capture_output=True, text=True, check=False)


def render(values: Mapping[str, Any] | None = None, *, sets: Sequence[str] = (), release: str = "aenv",
           namespace: str = "aenv-system", tmp: Path | None = None) -> list[dict[str, Any]]:
    """The chart's objects for these values (a values file when `tmp` is given, else --set flags only)."""
    args: list[str] = []
    if values:
        assert tmp is not None, "values need a directory for their file"
        path = tmp / "values.yaml"
        path.write_text(yaml.safe_dump(dict(values)))
        args += ["-f", str(path)]
    for s in sets:
        args += ["--set", s]
    done = template(*args, release=release, namespace=namespace)
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def of_kind(objects: Sequence[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]
