"""The README's commands after `make dev`, run in bash exactly as printed.

The commands are read from README.md when the tests are collected — every ```sh block of the section
"What `make dev` leaves behind" — so the README as edited is what is tested. They run in the environment `make dev`
leaves, made from this session's control plane and emulator: a checkout whose `.aenv/env` the devenv code wrote, the
operator running, and examples/env-staging.yaml applied and Ready. Each command runs in a fresh `bash` after the
`source`/`export`/`cd` lines printed before it. A command whose comment says "if ... is installed" is skipped when,
and only when, its program is absent.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from aenv.local import devenv, processes
from aenv.local.controlplane import binaries
from aenv.local.emulator import AwsEmulator
from aenv.local.processes import wait_for

from .conftest import Operator
from .kube import Kube

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SECTION = "What `make dev` leaves behind"
EXAMPLE = REPO / "examples" / "env-staging.yaml"
DEADLINE = 180.0  # for the example to become Ready
DELETE_DEADLINE = 60.0
COMMAND_TIMEOUT = 120
SHELL_STATE = {"source", ".", "export", "cd"}  # commands whose effect later commands of the README rely on
_example = yaml.safe_load(EXAMPLE.read_text())["metadata"]
NS, NAME = _example["namespace"], _example["name"]
VERSIONS = dict(line.split("=", 1) for line in (REPO / "hack" / "versions.env").read_text().splitlines()
                if "=" in line and not line.startswith("#"))
STATUS = [rf"^{NS}/{NAME}  phase Ready  Ready True", r"^WORKLOAD\s+STRATEGY\s+PHASE", r"^ws-gateway\s",
          r"^event-processor\s"]
# What each command must print, by how the command starts (the longest match applies): the lines run after it to
# check its effect, and regular expressions over the output. Any other command must exit 0 and print something.
EXPECTED: dict[str, tuple[str, list[str]]] = {
    "source .aenv/env": ("type -P aenv kubectl-aenv kubectl\nkubectl version --client",
                         [r"^.*/\.aenv/bin/aenv\n.*/\.aenv/bin/kubectl-aenv\n.*/\.aenv/bin/kubectl$",
                          rf"^Client Version: {re.escape(VERSIONS['K8S_VERSION'])}$"]),
    "kubectl get aenv -A": ("", [r"^NAMESPACE\s+NAME\s+TIER\s+PHASE\s+READY\s+EXPIRES\s+USD/MONTH\s+AGE$",
                                 rf"^{NS}\s+{NAME}\s+staging\s+Ready\s+True\s"]),
    "aenv status ": ("", STATUS),
    "kubectl aenv status ": ("", STATUS),
    "aenv plan -f examples/env-prod.yaml": ("", [
        r"^analytics-prod/defi: tier prod, mode boto3",
        r"^\s+\+ sqs\.queue\s+aenv-analytics-prod-defi-events\s+create$",
        r"^Plan: \d+ to create, 0 to change, 0 to delete, .*Nothing was changed\.$"]),
    "aws sqs list-queues": ("", [rf"/aenv-{NS}-{NAME}-events\"", rf"/aenv-{NS}-{NAME}-events-dlq\""]),
}


@dataclass(frozen=True)
class Command:
    text: str  # the line as printed, comment included
    before: tuple[str, ...]  # the shell-state lines printed before it in the section

    @property
    def program(self) -> str:
        return shlex.split(self.text, comments=True)[0]

    @property
    def optional(self) -> bool:
        return re.search(r"#\s*if\b.*\binstalled\b", self.text) is not None

    @property
    def bare(self) -> str:
        return shlex.join(shlex.split(self.text, comments=True))


def readme_commands(text: str, section: str) -> list[Command]:
    """The commands of the ```sh blocks under the heading `## <section>`, in order."""
    commands: list[Command] = []
    state: list[str] = []
    fence: str | None = None
    inside = False
    lines = iter(text.splitlines())
    for line in lines:
        if fence is None and line.startswith("```"):
            fence = line[3:].strip()
        elif fence is not None and line.startswith("```"):
            fence = None
        elif fence is None and re.match(r"#{1,2} ", line):
            inside = line.split(" ", 1)[1].strip() == section
        elif fence == "sh" and inside and line.strip() and not line.lstrip().startswith("#"):
            while line.endswith("\\"):
                line = line[:-1] + next(lines)
            command = Command(line.strip(), tuple(state))
            commands.append(command)
            if command.program in SHELL_STATE:
                state.append(command.text)
    return commands


COMMANDS = readme_commands((REPO / "README.md").read_text(), SECTION)


def expected(command: Command) -> tuple[str, list[str]]:
    keys = [k for k in EXPECTED if command.bare.startswith(k)]
    return EXPECTED[max(keys, key=len)] if keys else ("", [])


class DevOperator(Operator):
    """The operator as `make dev` runs it, through the `aenv` that `.aenv/env` puts on PATH, for the example's
    namespace only (the session's own operator serves the other tests' namespaces)."""

    def __init__(self, state: Path, kubeconfig: Path, emulator: AwsEmulator) -> None:
        super().__init__(state, kubeconfig, emulator)
        self.aenv = state / "bin" / "aenv"

    def start(self) -> None:
        processes.start([str(self.aenv), "run", "-n", NS], self.pidfile, self.log, env=self.env)


@pytest.fixture(scope="module")
def checkout(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A view of this checkout in which `make dev` has run: the README's commands run in it."""
    if os.environ.get("AENV_TEST_KUBECONFIG"):
        pytest.skip(f"the README's commands use the namespace {NS}: they run only on the tests' own local cluster")
    kubeconfig: Path = request.getfixturevalue("kubeconfig")
    kube: Kube = request.getfixturevalue("kube")
    emulator: AwsEmulator = request.getfixturevalue("emulator")
    view = tmp_path_factory.mktemp("checkout")
    for entry in REPO.iterdir():
        if not entry.name.startswith("."):
            (view / entry.name).symlink_to(entry)
    state = view / ".aenv"
    state.mkdir()
    shutil.copy(kubeconfig, state / "kubeconfig")
    devenv.write_env(state, devenv.environ(state, emulator), binaries() / "kubectl")

    operator = DevOperator(state, kubeconfig, emulator)
    operator.start()
    try:
        kube.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NS)))
        try:
            kube.create_env(NS, NAME, yaml.safe_load(EXAMPLE.read_text())["spec"])
            with log_on_failure(operator):
                kube.wait_condition(NS, NAME, "Ready", timeout=DEADLINE)
            yield view
        finally:
            kube.delete_env(NS, NAME)
            try:  # the deletion policies have their own tests: here a deletion that hangs is reported, not failed
                wait_for(lambda: kube.env_gone(NS, NAME), DELETE_DEADLINE, f"{NS}/{NAME} to be deleted")
            except TimeoutError as e:
                conditions = kube.get_env(NS, NAME).get("status", {}).get("conditions", [])
                warnings.warn(f"{e}; conditions: {conditions}", stacklevel=1)
            kube.core.delete_namespace(NS)
    finally:
        operator.stop()


@contextlib.contextmanager
def log_on_failure(operator: Operator) -> Iterator[None]:
    try:
        yield
    except (AssertionError, TimeoutError) as e:
        raise AssertionError(f"{e}\noperator log (tail):\n{operator.log_text()[-6000:]}") from None


def shell_environment() -> dict[str, str]:
    """A user's shell before `source .aenv/env`: nothing pointing at a cluster, an AWS account or this Python."""
    dropped = ("KUBECONFIG", "PYTHONPATH", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith(("AWS_", "AENV_"))}


def test_the_section_starts_by_sourcing_the_env_file() -> None:
    assert COMMANDS, f"README.md has no ```sh commands under '## {SECTION}'"
    assert COMMANDS[0].bare == "source .aenv/env"


@pytest.mark.parametrize("command", COMMANDS, ids=[c.bare for c in COMMANDS])
def test_readme_command(checkout: Path, command: Command) -> None:
    env = shell_environment()
    if command.optional and shutil.which(command.program, path=env.get("PATH")) is None:
        pytest.skip(f"{command.program} is not installed, and the README says the command needs it")
    check, patterns = expected(command)
    script = "\n".join([*command.before, command.text, check])
    result = subprocess.run(["bash", "--noprofile", "--norc", "-c", script], cwd=checkout, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            timeout=COMMAND_TIMEOUT)
    shown = f"$ {command.text}\n{result.stdout}"
    assert result.returncode == 0, shown
    if command.program not in SHELL_STATE:
        assert result.stdout.strip(), shown
    for pattern in patterns:
        assert re.search(pattern, result.stdout, re.M), f"expected /{pattern}/ in:\n{shown}"

