"""`FeedbackStore`: feedback in one SQLite file under RAG_HOME, on this machine and nowhere else.

One row per answer: feedback on the same answer again (a changed mind, the details after a thumbs-down)
updates that row. The file is in WAL mode and every write is one short transaction, so the chat's
sessions, `rag feedback` and another process can use it at once; in one process, writes take turns on
one connection. The file is made readable by its owner only: it holds what users asked.
"""

from __future__ import annotations

import datetime
import json
import os
import sqlite3
import threading
from pathlib import Path

from rag.errors import InvalidFeedback, StoreError
from rag.feedback.checks import Checked
from rag.feedback.records import Feedback
from rag.index.sqlite_file import connect_wal

FEEDBACK_FILE = "feedback.sqlite"
SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    answer_id TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    rating INTEGER NOT NULL CHECK (rating IN (-1, 1)),
    question TEXT NOT NULL,
    history TEXT NOT NULL,           -- JSON: the conversation's turns
    answer TEXT NOT NULL,            -- JSON: the Answer as given
    comment TEXT NOT NULL,
    wrong_citations TEXT NOT NULL,   -- JSON: citation numbers
    missing_paper TEXT               -- JSON: paper_id, title, abstract; NULL when none was named
)
"""
_COLUMNS = "id, answer_id, created, updated, rating, question, history, answer, comment, wrong_citations, missing_paper"


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


class FeedbackStore:
    """The feedback file at ``path`` (made, with its folder, on first use)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                if not self.path.exists():
                    self.path.touch(mode=0o600)
                db = connect_wal(self.path)
                db.execute("PRAGMA synchronous=FULL")  # a stored thumbs-up survives a power cut too
                # The table and its version written together, in a transaction that takes the write lock up
                # front (and so waits for it) rather than upgrading a read part-way.
                db.execute("BEGIN IMMEDIATE")
                try:
                    db.execute(_SCHEMA)
                    db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
            except (OSError, sqlite3.Error) as exc:
                raise self._failure("open", exc) from None
            self._db = db
        return self._db

    def _failure(self, doing: str, exc: Exception) -> StoreError:
        return StoreError(
            f"Could not {doing} the feedback file {self.path}: {exc}. Check that RAG_HOME is on a writable disk with "
            "room to spare; nothing else was changed."
        )

    def _run(self, doing: str, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock:
            db = self._connection()
            try:
                return db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise self._failure(doing, exc) from None

    def save(self, feedback: Checked) -> Feedback:
        """Store ``feedback`` (or update the row of its answer); the row as stored.

        An update first, an insert only when the answer has no row: an upsert would use up an id from the
        AUTOINCREMENT sequence each time it updated, and the next feedback would be numbered with a gap."""
        given = feedback.given
        now = _now()
        missing = feedback.missing_paper.model_dump_json() if feedback.missing_paper else None
        details = (feedback.rating, feedback.comment, json.dumps(feedback.wrong_citations), missing)
        with self._lock:
            db = self._connection()
            try:
                db.execute("BEGIN IMMEDIATE")  # another process's save of the same answer waits for this one
                try:
                    rows = db.execute(
                        f"""UPDATE feedback SET updated = ?, rating = ?, comment = ?, wrong_citations = ?, missing_paper = ?
                            WHERE answer_id = ? RETURNING {_COLUMNS}""",
                        (now, *details, given.answer.id),
                    ).fetchall()
                    if not rows:
                        rows = db.execute(
                            f"""INSERT INTO feedback (answer_id, created, updated, question, history, answer, rating, comment,
                                                      wrong_citations, missing_paper)
                                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {_COLUMNS}""",
                            (given.answer.id, now, now, given.question, json.dumps(given.history, ensure_ascii=False),
                             given.answer.model_dump_json(), *details),
                        ).fetchall()
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise self._failure("write", exc) from None
        return _row(rows[0])

    def list(self, limit: int | None = None, offset: int = 0) -> list[Feedback]:
        """The stored feedback, oldest first."""
        rows = self._run("read", f"SELECT {_COLUMNS} FROM feedback ORDER BY id LIMIT ? OFFSET ?",
                         (-1 if limit is None else max(0, limit), max(0, offset)))
        return [_row(r) for r in rows]

    def get(self, feedback_id: int) -> Feedback | None:
        rows = self._run("read", f"SELECT {_COLUMNS} FROM feedback WHERE id = ?", (int(feedback_id),))
        return _row(rows[0]) if rows else None

    def for_answer(self, answer_id: str) -> Feedback | None:
        rows = self._run("read", f"SELECT {_COLUMNS} FROM feedback WHERE answer_id = ?", (answer_id,))
        return _row(rows[0]) if rows else None

    def count(self) -> int:
        return self._run("read", "SELECT COUNT(*) FROM feedback")[0][0]

    def delete(self, feedback_id: int) -> Feedback:
        """Remove one row; `InvalidFeedback` naming `rag feedback list` when there is none with that id."""
        if isinstance(feedback_id, bool) or not isinstance(feedback_id, int):
            raise InvalidFeedback(f"A feedback id is a whole number, as `rag feedback list` shows it; got {str(feedback_id)[:40]!r}.")
        rows = self._run("delete from", f"DELETE FROM feedback WHERE id = ? RETURNING {_COLUMNS}", (feedback_id,))
        if not rows:
            raise InvalidFeedback(f"There is no feedback #{feedback_id}; `rag feedback list` shows the ids there are.")
        return _row(rows[0])

    def delete_answer(self, answer_id: str) -> bool:
        """Remove the feedback on one answer (a thumbs taken back); whether there was any."""
        return bool(self._run("delete from", "DELETE FROM feedback WHERE answer_id = ? RETURNING id", (answer_id,)))

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __repr__(self) -> str:
        return f"FeedbackStore({os.fspath(self.path)!r})"


def _row(row: tuple) -> Feedback:
    (id_, answer_id, created, updated, rating, question, history, answer, comment, wrong, missing) = row
    return Feedback(
        id=id_, answer_id=answer_id, created=created, updated=updated, rating=rating, question=question,
        history=json.loads(history), answer=json.loads(answer), comment=comment, wrong_citations=json.loads(wrong),
        missing_paper=json.loads(missing) if missing else None,
    )
