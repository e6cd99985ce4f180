"""The commands `pip install .` installs (aenv, and kubectl-aenv for `kubectl aenv ...`) and the ones `.aenv/env`
puts first on PATH after `make dev`: the same entry points from pyproject.toml."""

from __future__ import annotations

import os
import subprocess
import tomllib
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from aenv import cli
from aenv.local import devenv

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "env-prod.yaml"


def declared() -> dict[str, str]:
    scripts: dict[str, str] = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    return scripts


def test_pyproject_installs_aenv_and_the_kubectl_plugin() -> None:
    scripts = declared()
    assert scripts == {"aenv": "aenv.cli:main", "kubectl-aenv": "aenv.cli:plugin"}
    for name, value in scripts.items():  # resolved as the console scripts pip writes resolve them
        assert callable(EntryPoint(name, value, "console_scripts").load()), name
    assert devenv.scripts() == scripts


def test_plugin_takes_the_arguments_kubectl_passes(capsys: pytest.CaptureFixture[str]) -> None:
    # `kubectl aenv plan -f FILE --offline` runs kubectl-aenv with: plan -f FILE --offline
    assert cli.plugin(["plan", "-f", str(EXAMPLE), "--offline"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("analytics-prod/defi: tier prod, mode boto3, region us-east-1")
    assert "sqs.queue" in out
    with pytest.raises(SystemExit) as exited:
        cli.plugin(["--help"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("usage: kubectl aenv ")


def test_env_file_puts_aenv_first_on_path(tmp_path: Path) -> None:
    kubectl = tmp_path / "control-plane" / "kubectl"
    state = tmp_path / ".aenv"
    env_file = devenv.write_env(state, {"KUBECONFIG": str(state / "kubeconfig")}, kubectl)
    assert os.readlink(state / "bin" / "kubectl") == str(kubectl)
    assert sorted(p.name for p in (state / "bin").iterdir()) == ["aenv", "kubectl", "kubectl-aenv"]

    # A user's shell: no PYTHONPATH, no virtual environment; the commands come from `source`.
    shell = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "KUBECONFIG")}
    script = (f"source {env_file}\n"
              'echo "$KUBECONFIG"\n'
              "type -P aenv kubectl-aenv\n"
              f"kubectl-aenv plan -f {EXAMPLE} --offline\n")
    result = subprocess.run(["bash", "--noprofile", "--norc", "-c", script], env=shell, cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:3] == [str(state / "kubeconfig"), str(state / "bin" / "aenv"), str(state / "bin" / "kubectl-aenv")]
    assert lines[3].startswith("analytics-prod/defi: tier prod")
