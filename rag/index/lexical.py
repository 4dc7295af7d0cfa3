"""BM25 over each paper's title and abstract, kept in step with Chroma.

Why not `bm25s` / LlamaIndex's `BM25Retriever`: both rebuild from raw text on every change, which at 115k
abstracts means re-tokenising ~25M words for a one-paper update. Here each paper's term counts are stored
once, in a SQLite file beside the Chroma store; the in-memory BM25 matrix is rebuilt from those stored
counts (vectorised, no re-tokenising) on the first search after a change.

Chroma is the source of truth. `sync_with` compares this index's (paper id, content hash) pairs against
Chroma's papers and repairs the difference; it runs whenever the last ingest did not finish cleanly here
(the ``dirty`` flag) or Chroma's generation counter moved (another process, or another machine sharing a
Chroma server, changed the corpus). A long-running process (the chat) looks again now and then (`recheck`):
a `rag sync` or `rag ingest` in another process may have added papers to the Chroma server, or to this
very file when it runs on this machine.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from rag.errors import StoreError
from rag.index.chroma import ChromaStore
from rag.index.failures import failure_reason, guarded
from rag.index.filters import row_mask
from rag.index.sqlite_file import connect_wal
from rag.text.tokens import tokenize
from rag.types import Filters, Paper

log = logging.getLogger(__name__)

# sqlite3 and OS errors (a full disk, a read-only folder) are storage failures; anything else is a bug.
_STORAGE_ERRORS = (sqlite3.Error, OSError)

class LexicalIndex:
    def failure(self, action: str, exc: BaseException) -> StoreError:
        return StoreError(
            f"Couldn't {action} in the BM25 index {self.path}: {failure_reason(exc)}. Nothing indexed before was "
            "removed; free space or fix the folder's permissions and try again."
        )

    @guarded("open the index", _STORAGE_ERRORS)
    def __init__(self, path: Path, k1: float = 0.9, b: float = 0.4) -> None:
        self.path = path
        self.k1, self.b = k1, b
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = connect_wal(path)
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS terms (term TEXT PRIMARY KEY, id INTEGER NOT NULL UNIQUE);
            CREATE TABLE IF NOT EXISTS docs (
                paper_id TEXT PRIMARY KEY, hash TEXT NOT NULL, date INTEGER NOT NULL, categories TEXT NOT NULL,
                length INTEGER NOT NULL, term_ids BLOB NOT NULL, counts BLOB NOT NULL);
            CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            """
        )
        self._vocab: dict[str, int] = dict(self._db.execute("SELECT term, id FROM terms"))
        self._matrix = None  # built on first search after a change
        self.recheck_every = 30.0  # seconds between looks at what other processes changed (`recheck`)
        self._rechecked = time.monotonic()
        self._rechecking = threading.Lock()
        self._data_version = self._db.execute("PRAGMA data_version").fetchone()[0]  # moves when another connection commits

    # --- state -----------------------------------------------------------------------------------------

    def _get_state(self, key: str, default: str = "") -> str:
        row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def _set_state(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", (key, value))

    @property
    def dirty(self) -> bool:
        return self._get_state("dirty", "0") == "1"

    @guarded("record an ingest", _STORAGE_ERRORS)
    def mark_dirty(self) -> None:
        """Set before an ingest touches Chroma; cleared by `mark_clean` once both sides agree."""
        with self._lock:
            self._set_state("dirty", "1")

    @guarded("record an ingest", _STORAGE_ERRORS)
    def mark_clean(self, generation: int) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            self._set_state("dirty", "0")
            self._set_state("generation", str(generation))
            self._db.execute("COMMIT")

    @property
    def generation(self) -> int:
        return int(self._get_state("generation", "-1"))

    # --- writes ----------------------------------------------------------------------------------------

    @guarded("write papers", _STORAGE_ERRORS)
    def upsert(self, papers: Sequence[tuple[Paper, str]]) -> None:
        """Index (paper, content hash) pairs in one transaction."""
        if not papers:
            return
        counted = [(paper, content_hash, Counter(tokenize(f"{paper.title} {paper.abstract}"))) for paper, content_hash in papers]
        rows = []
        with self._lock:
            # The write lock first (BEGIN IMMEDIATE), then the terms other processes added meanwhile: two processes
            # writing this file (a `rag sync` beside the chat over a Chroma server) must not hand one id to two terms.
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._take_in_other_writes()
                new_terms: list[tuple[str, int]] = []
                for paper, content_hash, counts in counted:
                    ids = []
                    for term in counts:
                        tid = self._vocab.get(term)
                        if tid is None:
                            tid = self._vocab[term] = len(self._vocab)
                            new_terms.append((term, tid))
                        ids.append(tid)
                    rows.append(
                        (
                            paper.paper_id,
                            content_hash,
                            paper.date_int,
                            "\t".join(paper.categories),
                            sum(counts.values()),
                            np.asarray(ids, dtype=np.int32).tobytes(),
                            np.asarray(list(counts.values()), dtype=np.int32).tobytes(),
                        )
                    )
                self._db.executemany("INSERT INTO terms (term, id) VALUES (?, ?)", new_terms)
                self._db.executemany("INSERT OR REPLACE INTO docs VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                self._vocab = dict(self._db.execute("SELECT term, id FROM terms"))
                raise
            self._matrix = None

    def _take_in_other_writes(self) -> None:
        """Reload the terms and drop the matrix when another connection (process) committed to this file."""
        version = self._db.execute("PRAGMA data_version").fetchone()[0]
        if version != self._data_version:
            self._vocab = dict(self._db.execute("SELECT term, id FROM terms"))
            self._matrix = None
            self._data_version = version

    @guarded("delete papers", _STORAGE_ERRORS)
    def delete(self, paper_ids: Iterable[str]) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("DELETE FROM docs WHERE paper_id = ?", [(p,) for p in paper_ids])
            self._db.execute("COMMIT")
            self._matrix = None

    def hashes(self) -> dict[str, str]:
        return dict(self._db.execute("SELECT paper_id, hash FROM docs"))

    def count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM docs").fetchone()[0]

    @guarded("catch up with Chroma", _STORAGE_ERRORS)
    def sync_with(self, store: ChromaStore, force: bool = False) -> tuple[int, int]:
        """Make this index hold exactly Chroma's papers. Returns (papers indexed, papers removed)."""
        generation = store.generation()
        if not force and not self.dirty and self.generation == generation and self.count() == store.count():
            return 0, 0
        theirs = store.all_hashes()
        ours = self.hashes()
        stale = [pid for pid in ours if pid not in theirs]
        missing = [pid for pid, h in theirs.items() if ours.get(pid) != h]
        if stale:
            self.delete(stale)
        for begin in range(0, len(missing), 2000):
            part = missing[begin : begin + 2000]
            papers = store.get_papers(part)
            self.upsert([(papers[pid], theirs[pid]) for pid in part if pid in papers])
        self.mark_clean(generation)
        if stale or missing:
            log.info("BM25 index synced with Chroma: %d indexed, %d removed", len(missing), len(stale))
        return len(missing), len(stale)

    def recheck(self, store: ChromaStore) -> None:
        """At most every `recheck_every` seconds: take in what other processes changed meanwhile, in this file
        (reload the terms, rebuild the matrix) and in Chroma (`sync_with`). Skipped while an ingest is under
        way (it brings both sides in step itself); a failure is logged, and searching goes on as it was."""
        now = time.monotonic()
        if now < self._rechecked + self.recheck_every or not self._rechecking.acquire(blocking=False):
            return
        try:
            self._rechecked = now
            if self.dirty:
                return
            with self._lock:
                self._take_in_other_writes()
            self.sync_with(store)
        except (StoreError, sqlite3.Error) as exc:
            log.warning("Couldn't check for papers other processes added: %s", exc)
        finally:
            self._rechecking.release()

    # --- search ----------------------------------------------------------------------------------------

    def _build(self):
        """The BM25 weight of every (paper, term), as a sparse matrix with one column per term."""
        from scipy import sparse

        rows = self._db.execute("SELECT paper_id, date, categories, length, term_ids, counts FROM docs ORDER BY rowid").fetchall()
        n_docs, ids = len(rows), [r[0] for r in rows]
        dates = np.fromiter((r[1] for r in rows), dtype=np.int64, count=n_docs)
        categories = [r[2] for r in rows]
        lengths = np.fromiter((r[3] for r in rows), dtype=np.float32, count=n_docs)
        term_arrays = [np.frombuffer(r[4], dtype=np.int32) for r in rows]
        count_arrays = [np.frombuffer(r[5], dtype=np.int32) for r in rows]
        doc_index = np.repeat(np.arange(n_docs, dtype=np.int32), [len(t) for t in term_arrays])
        terms = np.concatenate(term_arrays) if term_arrays else np.zeros(0, np.int32)
        # Rows committed by another process since the terms were read may use ids beyond them.
        n_terms = max(len(self._vocab), int(terms.max()) + 1 if terms.size else 0, 1)
        tf = (np.concatenate(count_arrays) if count_arrays else np.zeros(0, np.int32)).astype(np.float32)
        df = np.bincount(terms, minlength=n_terms).astype(np.float32)
        idf = np.log1p((n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
        avgdl = float(lengths.mean()) if n_docs else 1.0
        norm = self.k1 * (1 - self.b + self.b * lengths / max(avgdl, 1e-9))
        weights = idf[terms] * tf * (self.k1 + 1) / (tf + norm[doc_index])
        matrix = sparse.csc_matrix((weights, (doc_index, terms)), shape=(n_docs, n_terms), dtype=np.float32)
        position = {pid: i for i, pid in enumerate(ids)}
        return matrix, ids, position, dates, categories

    def _index(self):
        with self._lock:
            if self._matrix is None:
                self._take_in_other_writes()  # the rows read may hold terms another process added
                self._matrix = self._build()
            return self._matrix

    def query_terms(self, query: str) -> list[int]:
        return [self._vocab[t] for t in tokenize(query) if t in self._vocab]

    def _scores(self, query: str) -> tuple[np.ndarray, tuple]:
        index = self._index()
        matrix = index[0]
        term_ids = self.query_terms(query)
        scores = np.zeros(matrix.shape[0], dtype=np.float32)
        for tid, qtf in Counter(term_ids).items():
            if tid < matrix.shape[1]:
                column = matrix.getcol(tid)
                scores[column.indices] += qtf * column.data
        return scores, index

    @guarded("search", _STORAGE_ERRORS)
    def search(self, query: str, n: int, filters: Filters | None = None) -> list[tuple[str, float]]:
        """The ``n`` best (paper id, BM25 score) pairs with a positive score."""
        scores, (_, ids, position, dates, categories) = self._scores(query)
        if filters is not None and not filters.is_empty():
            scores = scores * row_mask(filters, ids, position, dates, categories)
        positive = np.flatnonzero(scores > 0)
        if positive.size > n:
            positive = positive[np.argpartition(-scores[positive], n - 1)[:n]]
        order = positive[np.argsort(-scores[positive], kind="stable")]
        return [(ids[i], float(scores[i])) for i in order]

    @guarded("search", _STORAGE_ERRORS)
    def scores_for(self, query: str, paper_ids: Sequence[str]) -> dict[str, float]:
        scores, (_, _, position, _, _) = self._scores(query)
        return {pid: float(scores[position[pid]]) for pid in paper_ids if pid in position}

    def idf(self, term: str) -> float:
        """Inverse document frequency of a (stemmed) term; unseen terms get the highest value."""
        matrix = self._index()[0]
        n = matrix.shape[0]
        tid = self._vocab.get(term)
        df = 0 if tid is None or tid >= matrix.shape[1] else matrix.indptr[tid + 1] - matrix.indptr[tid]
        return math.log1p((n - df + 0.5) / (df + 0.5))

    def close(self) -> None:
        with self._lock:
            self._db.close()
