"""Fewer malloc arenas for the operator process, and freed memory handed back to the system.

glibc gives threads that allocate at once arenas of their own, up to eight per core. The operator's threads (the
workers, the environments' passes, one per watch) each leave freed memory in their arena, where the others do
not reuse it, so the resident size grows with fragments rather than with what is held. Two arenas, set before
any of those threads starts, keep it close to what is held. MALLOC_ARENA_MAX, when set, wins.

glibc also keeps what was freed for later allocations instead of returning it: a resync's burst of parsed
listings leaves the resident size at its high-water mark. malloc_trim, now and then, returns the free pages.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from typing import Any

M_ARENA_MAX = -8  # glibc's mallopt parameter
ARENAS = 2
TRIM_SECONDS = 30.0


def _libc() -> Any:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c"))
    except OSError:
        return None


def limit_arenas(count: int = ARENAS) -> bool:
    """Whether the limit was set (not on a C library without mallopt, such as musl, nor over MALLOC_ARENA_MAX)."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    mallopt = getattr(_libc(), "mallopt", None)
    return bool(mallopt(M_ARENA_MAX, count)) if mallopt is not None else False


def trim() -> bool:
    """Return free heap pages to the system now; whether any were."""
    malloc_trim = getattr(_libc(), "malloc_trim", None)
    return bool(malloc_trim(0)) if malloc_trim is not None else False


def trim_every(seconds: float, stop: threading.Event) -> threading.Thread:
    """A daemon thread that trims every `seconds` until `stop` is set."""
    def run() -> None:
        while not stop.wait(seconds):
            trim()

    thread = threading.Thread(target=run, name="aenv-malloc-trim", daemon=True)
    thread.start()
    return thread
