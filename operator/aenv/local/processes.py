"""Background processes with a pid file, and waiting on a condition with a deadline."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


def wait_for(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.2) -> None:
    """Poll check() until it holds; raise TimeoutError naming what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - not ready yet; the deadline decides
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_pid(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if alive(pid) else None


def start(cmd: Sequence[str], pidfile: Path, logfile: Path, env: Mapping[str, str] | None = None,
          cwd: Path | None = None) -> subprocess.Popen[bytes]:
    """Start cmd in its own session, output to logfile, pid in pidfile."""
    logfile.parent.mkdir(parents=True, exist_ok=True)
    with logfile.open("ab") as log:
        proc = subprocess.Popen(list(cmd), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=dict(env) if env is not None else None, cwd=cwd, start_new_session=True)
    pidfile.write_text(str(proc.pid))
    return proc


def stop(pidfile: Path, timeout: float = 15) -> None:
    """SIGTERM the process group, SIGKILL after timeout; remove the pid file."""
    pid = read_pid(pidfile)
    if pid is not None:
        _signal_group(pid, signal.SIGTERM)
        try:
            wait_for(lambda: not alive(pid) or _reap(pid), timeout, f"process {pid} to stop")
        except TimeoutError:
            _signal_group(pid, signal.SIGKILL)
            wait_for(lambda: not alive(pid) or _reap(pid), 5, f"process {pid} to die")
    pidfile.unlink(missing_ok=True)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def _reap(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return done == pid
