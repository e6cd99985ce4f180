"""Fewer malloc arenas for the operator process.

glibc gives threads that allocate at once arenas of their own, up to eight per core. The operator's threads (the
workers, the environments' passes, one per watch) each leave freed memory in their arena, where the others do
not reuse it, so the resident size grows with fragments rather than with what is held. Two arenas, set before
any of those threads starts, keep it close to what is held. MALLOC_ARENA_MAX, when set, wins.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

M_ARENA_MAX = -8  # glibc's mallopt parameter
ARENAS = 2


def limit_arenas(count: int = ARENAS) -> bool:
    """Whether the limit was set (not on a C library without mallopt, such as musl, nor over MALLOC_ARENA_MAX)."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return False
    mallopt = getattr(libc, "mallopt", None)
    return bool(mallopt(M_ARENA_MAX, count)) if mallopt is not None else False
