"""Handing memory that malloc kept after an ingest back to the OS.

Each batch's encode allocates and frees a few hundred MB, which glibc's malloc keeps for reuse rather than
giving back: the next batch reuses it, so returning it after every batch would not lower the peak
(benchmarks/memory/ingest_memory.py --trim), but a long-lived process (the chat, which indexes on first
use) would carry it for good. So the ingest returns it once, at the end.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable


@functools.cache
def _libc_malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to release this way
        return None


def release_freed_memory() -> None:
    """Hand memory that malloc keeps after `free` back to the OS (glibc's ``malloc_trim``; a no-op elsewhere)."""
    trim = _libc_malloc_trim()
    if trim is not None:
        trim(0)
