"""Who may sync an index, and when: file locks (``flock``) under ``RAG_HOME/feeds/``, released by the OS
when their process ends, however it ends (a ``kill -9`` leaves no stale lock).

- `sync_lock`: one sync of an index at a time (a `rag sync --every` beside `rag ui`'s own schedule, two
  cron jobs overlapping): the second is told who runs, and does nothing.
- `claim_embedded`: an embedded Chroma store is one process's folder (Chroma does not support two
  processes writing one folder). `rag ui` holds a shared claim while it serves (several may, as before);
  a separate `rag sync` needs the claim alone, so it refuses while a `rag ui` serves the folder, and a
  `rag ui` refuses while a `rag sync` writes it. `rag ui`'s background schedule (``RAG_FEEDS_EVERY``)
  syncs inside its own process, and a Chroma server (``RAG_CHROMA_HOST``) takes any number of processes:
  neither needs the claim.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rag.errors import RagError
from rag.feeds.state import index_key
from rag.settings import Settings


class SyncBusy(RagError):
    """Another sync of this index is running."""


def _holder(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return ""
    return text[:100]


@contextmanager
def sync_lock(settings: Settings) -> Iterator[None]:
    path = settings.home / "feeds" / f"{index_key(settings)}.sync-lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            who = _holder(path)
            raise SyncBusy(
                f"Another sync of this index is running ({who or 'another process'}); this one did nothing. "
                "It carries on where that one stops."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        yield
    finally:
        handle.close()  # closing releases the lock


class EmbeddedClaim:
    """A hold on an embedded store's folder; `release()` (or the process ending) lets it go."""

    def __init__(self, handle) -> None:
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def claim_embedded(settings: Settings, who: str, shared: bool) -> EmbeddedClaim:
    """Claim the embedded store under ``settings.home`` for ``who`` ("rag ui", "rag sync"): shared (serving)
    or alone (writing from a separate process). A `RagError` saying who holds it and what to do instead
    when it can't be had. A Chroma server needs no claim (nothing is held)."""
    if settings.chroma.host:
        return EmbeddedClaim(None)
    path = settings.home / "feeds" / "embedded-store.claim"
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")
    try:
        fcntl.flock(handle, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(path) or "another process"
        handle.close()
        if shared:
            raise RagError(
                f"{holder} is writing the index in {settings.home} (an embedded store is one process's folder). "
                "Start the chat when it has finished; to sync while the chat runs, stop it and set RAG_FEEDS_EVERY "
                "(e.g. 6h) for rag ui instead, or put the index on a Chroma server (RAG_CHROMA_HOST)."
            ) from None
        raise RagError(
            f"{holder} is serving the index in {settings.home}, and an embedded store is one process's folder: "
            "a second process writing it could corrupt it. Let rag ui sync it in the background (RAG_FEEDS_EVERY=6h), "
            "stop rag ui first, or put the index on a Chroma server (RAG_CHROMA_HOST) so both can use it."
        ) from None
    handle.seek(0)  # the note says who holds it; a shared claim's note is its last holder's
    handle.truncate()
    handle.write(f"{who} (pid {os.getpid()})")
    handle.flush()
    return EmbeddedClaim(handle)
