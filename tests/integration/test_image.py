"""The image, without a Docker engine: the Dockerfile's install steps (a wheel of the project, installed into a clean
virtual environment with requirements.lock as constraints) performed here, and the installed `aenv` run from
outside the checkout. The Dockerfile itself stays multi-stage, non-root, and writes nothing outside /tmp."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"


def run(*cmd: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_dockerfile_is_multi_stage_non_root_and_read_only() -> None:
    text = DOCKERFILE.read_text()
    stages = re.findall(r"^FROM (\S+)", text, re.M)
    assert len(stages) >= 2 and stages[0] == stages[-1], stages  # built in one stage, run from a fresh base
    final = text.split("\nFROM ")[-1]
    assert re.search(r"^USER 65532:65532$", final, re.M), "the image runs as root"
    assert "VOLUME" not in text
    assert "HOME=/tmp" in final and "PYTHONDONTWRITEBYTECODE=1" in final
    assert "COPY --from=build /opt/aenv /opt/aenv" in final  # the runtime stage gets the venv, no build tools


def test_the_image_install_steps_give_a_working_aenv(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "requirements.lock", "README.md"):  # what the Dockerfile copies
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "operator", src / "operator", ignore=shutil.ignore_patterns("__pycache__"))
    wheels, venv = tmp_path / "wheels", tmp_path / "opt-aenv"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    run(sys.executable, "-m", "pip", "wheel", "--disable-pip-version-check", "--no-deps", "-w", wheels, ".",
        cwd=src, env=env)
    (wheel,) = wheels.glob("aenv-*.whl")
    run(sys.executable, "-m", "venv", venv, cwd=tmp_path, env=env)
    # --no-compile: the same packages as the image, without the bytecode that only saves the image start-up time
    run(venv / "bin" / "pip", "install", "--disable-pip-version-check", "--no-compile", "-q", "-c",
        src / "requirements.lock", wheel, cwd=src, env=env)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    aenv = venv / "bin" / "aenv"
    assert "run" in run(aenv, "--help", cwd=elsewhere, env=env)
    help_run = run(aenv, "run", "--help", cwd=elsewhere, env=env)
    for flag in ("--leader-elect", "--health-port", "--namespace", "--metrics-port"):
        assert flag in help_run
    where = run(venv / "bin" / "python", "-c", "import aenv, pathlib; print(pathlib.Path(aenv.__file__).parent)",
                cwd=elsewhere, env=env).strip()
    assert Path(where).is_relative_to(venv), f"aenv imported from {where}, not from the installed wheel"
    assert (Path(where) / "py.typed").exists()
    assert (venv / "bin" / "kubectl-aenv").exists()
