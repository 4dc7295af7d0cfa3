"""`connect_wal`: a connection to a SQLite file in WAL mode, safe when several open it at the same moment.

The BM25 index and the feedback file are SQLite files that the chat, `rag sync`, `rag feedback` and other
processes open at once. Switching a file to WAL needs it to itself for a moment, and SQLite fails that switch
at once with "database is locked" instead of calling its busy handler, so two first openings of a new file
could fail one of them. Here the switch is tried again for as long as an ordinary write would wait.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

BUSY_SECONDS = 30.0


def connect_wal(path: str | Path, busy_seconds: float = BUSY_SECONDS) -> sqlite3.Connection:
    """A connection to ``path`` in WAL mode, in autocommit (transactions are begun explicitly), usable from
    any thread (the callers serialise their use with a lock), whose writes wait up to ``busy_seconds``."""
    db = sqlite3.connect(str(path), timeout=busy_seconds, isolation_level=None, check_same_thread=False)
    deadline = time.monotonic() + busy_seconds
    try:
        while True:
            try:
                db.execute("PRAGMA journal_mode=WAL")
                return db
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
    except BaseException:
        db.close()
        raise
