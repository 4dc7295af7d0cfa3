"""Room on the disk for an ingest: the data folder must be writable, and stay above a free-space floor.

Chroma survives ENOSPC mid-write badly: every later read of the collection fails until space is freed. So
an ingest checks before it starts and before every batch of writes, and stops cleanly, keeping what it
wrote, when the next batch would take the disk below ``RAG_CORPUS_MIN_FREE_MB``.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from rag.errors import StoreError
from rag.types import IngestReport


class DiskGuard:
    def __init__(self, folders: list[Path], min_free_mb: int) -> None:
        """``folders``: the local folders an ingest writes (the BM25 side, and embedded Chroma's)."""
        self.folders = folders
        self.min_free_mb = min_free_mb
        # Disk used per chunk written, the most seen per folder in this process: the check before each
        # write reserves room for the batch about to go in, not just the floor.
        self.bytes_per_chunk: dict[Path, float] = {}

    def check_writable(self) -> None:
        """Fail before anything is written when the data folder is read-only (a mount, or permissions)."""
        for folder in self.folders:
            try:
                with tempfile.TemporaryFile(dir=folder, prefix=".write-check-"):
                    pass
            except OSError as exc:
                raise StoreError(
                    f"Can't write to the data folder {folder} ({exc.strerror or exc}); nothing was changed. "
                    "Make it writable, or point RAG_HOME at a folder that is."
                ) from None

    def check_free_space(self, report: IngestReport | None = None, chunks: int = 0) -> None:
        """Stop cleanly before the disk fills: what was written so far stays indexed and consistent.

        ``chunks`` is the size of the write about to start: room for it (at the most disk per chunk seen
        so far) is needed on top of the floor.
        """
        floor = self.min_free_mb
        if not floor:
            return
        for folder in self.folders:
            try:
                free = shutil.disk_usage(folder).free / 1024 / 1024
            except OSError:
                continue
            reserve = self.bytes_per_chunk.get(folder, 0.0) * chunks / 1024 / 1024
            if free < floor + reserve:
                done = (
                    f"{report.added + report.updated:,} papers of this run were indexed before it stopped; "
                    "run the ingest again after freeing space to carry on."
                    if report and (report.added or report.updated)
                    else "nothing was changed."
                )
                batch = f" plus about {reserve:,.0f} MB for the next batch of writes" if reserve >= 0.5 else ""
                raise StoreError(
                    f"Only {free:,.0f} MB free on the disk holding {folder}; indexing needs at least {floor:,} MB "
                    f"(RAG_CORPUS_MIN_FREE_MB){batch}. The index is intact: {done}"
                )

    def free_bytes(self) -> dict[Path, int]:
        free = {}
        for folder in self.folders:
            try:
                free[folder] = shutil.disk_usage(folder).free
            except OSError:
                continue
        return free

    def note_disk_use(self, before: dict[Path, int], chunks: int) -> None:
        """Learn the disk a write of ``chunks`` chunks took, from the free space ``before`` it."""
        # A small write says little: a collection's first write allocates index files and pages that
        # later writes fill, so a handful of chunks can look like 20 KB each when a batch costs 5.
        if chunks < 200:
            return
        for folder, free in self.free_bytes().items():
            used = before.get(folder, free) - free
            if used > 0:  # freed pages reused, or another process deleting files: nothing learned
                self.bytes_per_chunk[folder] = max(self.bytes_per_chunk.get(folder, 0.0), used / chunks)
