"""Uploaded corpus files: read under the upload limits, one at a time, from a private copy that is removed on
every way out.

- `limits_for`: what one upload may unpack to and hold (`RAG_UI_MAX_UPLOAD_UNPACKED_MB`,
  `RAG_UI_MAX_UPLOAD_RECORDS`), checked while the file is read (`rag.corpus.ReadLimits`).
- `IngestSlot`: one ingest at a time in this process. A second upload is told at once that one is being
  indexed (its name and how far it got) instead of waiting in a queue until its request times out.
- `private_copy`: the upload copied to ``<temp>/rag-upload-<pid>-*/upload.<type>``. The folder and the
  server's cached upload are removed when the ingest ends, however it ends (a report, an error); by
  `remove_all` when the process stops under it (`rag ui` calls it on Ctrl-C and SIGTERM, and at exit);
  and, after a ``kill -9``, by `sweep_stale` at the next start (a folder whose process is gone).
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rag.corpus import ReadLimits
from rag.settings import UISettings

__all__ = ["PREFIX", "IngestSlot", "discard", "limits_for", "private_copy", "remove_all", "sweep_stale"]

PREFIX = "rag-upload-"
_MB = 1024 * 1024
_OWNED = re.compile(rf"^{PREFIX}(\d+)-")

_held: set[Path] = set()  # folders and cached uploads to remove if the process stops while they are in use
_held_lock = threading.Lock()
_atexit_registered = False


def limits_for(ui: UISettings) -> ReadLimits:
    return ReadLimits(max_bytes=ui.max_upload_unpacked_mb * _MB, max_records=ui.max_upload_records)


class IngestSlot:
    """One ingest at a time: `take` says whether this upload may go ahead; `busy` what the running one is."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.name = ""
        self.read = 0

    def take(self, name: str) -> bool:
        if not self._lock.acquire(blocking=False):
            return False
        self.name, self.read = name, 0
        return True

    def release(self) -> None:
        self.name, self.read = "", 0
        self._lock.release()

    def busy(self, shown: str) -> str:
        running, read = self.name, self.read  # read without the lock: a message, not a decision
        progress = f", {read:,} records read so far" if read else ""
        return (
            f"Another upload (“{running}”{progress}) is being indexed, and uploads are indexed one at a time. "
            f"“{shown}” was not indexed: upload it again when that one has finished."
        )


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _hold(*paths: Path) -> None:
    global _atexit_registered
    with _held_lock:
        _held.update(paths)
        if not _atexit_registered:
            atexit.register(remove_all)
            _atexit_registered = True


def _release(*paths: Path) -> None:
    for path in paths:
        _remove(path)
    with _held_lock:
        _held.difference_update(paths)


def discard(source: Path) -> None:
    """Remove the server's cached copy of an upload that was not indexed (unless an ingest is reading it)."""
    with _held_lock:
        if source in _held:
            return
    source.unlink(missing_ok=True)


def remove_all() -> list[Path]:
    """Remove every upload copy still in use (the process is stopping under an ingest); what was removed."""
    with _held_lock:
        paths = sorted(_held)
        _held.clear()
    for path in paths:
        _remove(path)
    return paths


@contextmanager
def private_copy(source: Path, suffix: str) -> Iterator[Path]:
    """``source`` (the server's cached upload) copied to ``upload<suffix>`` in a fresh folder of its own; both
    removed when the block ends, or by `remove_all` if the process stops first."""
    folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-"))
    _hold(folder, source)
    try:
        stored = folder / f"upload{suffix}"
        shutil.copyfile(source, stored)
        yield stored
    finally:
        _release(folder, source)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def sweep_stale(folder: Path | None = None) -> list[Path]:
    """Remove the upload copies left in the temp folder by processes that are gone (killed mid-ingest)."""
    folder = Path(folder or tempfile.gettempdir())
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        owner = _OWNED.match(entry.name)
        if owner and int(owner.group(1)) != os.getpid() and not _alive(int(owner.group(1))):
            _remove(entry)
            removed.append(entry)
    return removed
