"""The sync state of one index: per feed, the days done and the days that failed; the last runs.

A JSON file under ``RAG_HOME/feeds/`` (one per index: a Chroma server's collection is another index),
rewritten whole for every change: written to a temporary file beside it, flushed to disk, then renamed
over it, so a kill at any moment leaves the old state or the new one, never half of one. Changes are
made under a lock (``flock`` on a file beside it), so two processes never lose each other's days.

A day is marked done only after its papers are indexed: a run killed before that fetches the day again
next time (the ingest is idempotent, so that costs requests, not embeddings). A state file that can't be
read is moved aside (``.unreadable-<time>``) and the feeds start over: the index itself is untouched, and
re-fetching what is indexed adds nothing.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel

from rag.settings import Settings

log = logging.getLogger(__name__)

VERSION = 1
KEEP_RUNS = 20  # runs remembered for the chat's status line


def index_key(settings: Settings) -> str:
    """A file name for the index ``settings`` point at (as the BM25 file is named)."""
    chroma = settings.chroma
    return (f"{chroma.host}-{chroma.port}-" if chroma.host else "") + chroma.collection


def now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


class SyncStatus(BaseModel):
    """When the feeds last synced and what the recent runs added, for the chat's status line."""

    last_run: str = ""  # ISO time the last run finished ("" when never)
    last_added: int = 0  # papers the last run added
    last_failed_days: int = 0
    recent_new: list[tuple[str, str]] = []  # (paper id, title) added by the recent runs, newest first
    through: dict[str, str] = {}  # feed -> the latest day done


class SyncState:
    def __init__(self, settings: Settings) -> None:
        folder = settings.home / "feeds"
        self.path = folder / f"{index_key(settings)}.json"
        self._lock_path = folder / f"{index_key(settings)}.state-lock"

    # --- reading ----------------------------------------------------------------------------------------

    def read(self) -> dict:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return _empty()
        except (OSError, ValueError) as exc:
            return self._unreadable(exc)
        if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("feeds"), dict):
            return self._unreadable(ValueError("not a sync state of this version"))
        return data

    def _unreadable(self, exc: Exception) -> dict:
        aside = self.path.with_name(f"{self.path.name}.unreadable-{datetime.datetime.now():%Y%m%d-%H%M%S}")
        try:
            self.path.rename(aside)
            log.warning("The sync state %s could not be read (%s); moved to %s. The feeds start over.", self.path, exc, aside)
        except OSError:
            log.warning("The sync state %s could not be read (%s). The feeds start over.", self.path, exc)
        return _empty()

    def feed(self, name: str) -> dict:
        return _feed(self.read(), name)

    def done(self, name: str) -> set[str]:
        return set(self.feed(name)["done"])

    def failed(self, name: str) -> dict[str, str]:
        return dict(self.feed(name)["failed"])

    def status(self) -> SyncStatus:
        data = self.read()
        runs = data.get("runs") or []
        status = SyncStatus(through={name: max(f["done"]) for name, f in data["feeds"].items() if f.get("done")})
        if runs:
            last = runs[-1]
            status.last_run, status.last_added = last.get("finished", ""), int(last.get("added", 0))
            status.last_failed_days = int(last.get("failed_days", 0))
            for run in reversed(runs):
                newest_first = [tuple(item) for item in reversed(run.get("new", []))]
                status.recent_new += newest_first[: max(0, 20 - len(status.recent_new))]
        return status

    # --- changing ---------------------------------------------------------------------------------------

    def day_done(self, name: str, day: str, settled: bool) -> None:
        """``day`` of feed ``name`` arrived and is indexed; ``settled``: the feed adds nothing to it any more,
        so later runs skip it."""

        def change(data: dict) -> None:
            feed = _feed(data, name)
            feed["failed"].pop(day, None)
            if settled and day not in feed["done"]:
                feed["done"] = sorted([*feed["done"], day])
            feed["last_success"] = now_iso()

        self.update(change)

    def day_failed(self, name: str, day: str, reason: str) -> None:
        self.update(lambda data: _feed(data, name)["failed"].__setitem__(day, reason[:500]))

    def run_finished(self, feeds: list[str], added: int, updated: int, failed_days: int, new: list[tuple[str, str]]) -> None:
        def change(data: dict) -> None:
            run = {"finished": now_iso(), "feeds": feeds, "added": added, "updated": updated,
                   "failed_days": failed_days, "new": [list(item) for item in new[:50]]}
            data["runs"] = (data.get("runs") or [])[-(KEEP_RUNS - 1):] + [run]

        self.update(change)

    def update(self, change: Callable[[dict], None]) -> None:
        """Read, change and write the state atomically, under the lock."""
        with self._locked():
            data = self.read()
            change(data)
            _write_atomically(self.path, json.dumps(data, indent=1, ensure_ascii=False))

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _empty() -> dict:
    return {"version": VERSION, "feeds": {}, "runs": []}


def _feed(data: dict, name: str) -> dict:
    feed = data["feeds"].setdefault(name, {})
    feed.setdefault("done", [])
    feed.setdefault("failed", {})
    return feed


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    try:  # the rename itself reaches the disk with the folder's entry
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    except OSError:
        pass
