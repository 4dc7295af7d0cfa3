"""Ingest: corpus files (or a feed's records) -> papers -> chunks -> vectors -> Chroma and BM25, idempotent and resumable.

Each batch of papers is looked up by id first: a paper whose content hash is already stored is left alone
(re-ingest is cheap: nothing is embedded), a changed paper has its old chunks deleted before the new ones
go in (never doubled), a new paper is added. Chunk ids are deterministic (``paper_id::n``) and every
write is an upsert, so a run killed at any point and started again converges to the same index.
Within one run the first record of an id wins; a later, different record of the same id is reported. A
record repeated verbatim costs next to nothing: the reader hands back the same `Paper` object
(`rag.corpus.readers`), whose content hash is then not computed again (`_RecentHashes`).

Limits (`ReadLimits`, an upload's): checked on each file before anything is written, as far as a pass over
the file can tell (its unpacked bytes; a JSON Lines file's records), then again while it is read.

Throughput: the model is the cost (benchmarks/perf/scale.py: ingest within a few percent of a bare encode of
the same chunks). Batches of papers are embedded in one call (token-budget batches inside), and each
batch's writes (Chroma, then BM25) run on one background thread while the next batch is embedded. At most
one batch is in flight, and the writes keep their order, so memory stays bounded and a kill at any point
leaves the same states a sequential run could leave.

Memory: what an ingest holds for good is the index itself (embedded Chroma keeps every chunk's 384 floats
in its in-memory HNSW index); what each batch's encode frees is handed back once, at the end (`memory`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from rag.corpus import ReadLimits, count_records, detect_format, read_records
from rag.errors import CorpusFormatError, StoreError
from rag.index.chroma import ChromaStore, paper_metadata
from rag.index.chunking import chunk_paper, embedding_text, paper_text
from rag.index.embedding import Embedder
from rag.index.lexical import LexicalIndex
from rag.index.paper_extras import extras_changes, stored_metadatas, update_metadata
from rag.ingest import memory
from rag.ingest.disk import DiskGuard
from rag.settings import Settings
from rag.types import Chunk, IngestReport, Paper, Skipped

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int | None], None]  # (papers read so far, total or None)
Records = Iterable[tuple[Paper | Skipped, str]]  # (a paper or why a record was skipped, where it was read)


class Indexer:
    def __init__(self, settings: Settings, store: ChromaStore, lexical: LexicalIndex, embedder: Embedder) -> None:
        self.settings = settings
        self.store = store
        self.lexical = lexical
        self.embedder = embedder
        self.batch_size = 256  # papers per embedding call (~2,500 sentence chunks): memory stays small
        self._resuming = False
        # One ingest at a time per index in this process (an upload and a feed sync in `rag ui`): the runs share
        # the store's ingesting mark, the BM25 side's dirty mark and `_resuming`.
        self._lock = threading.Lock()
        folders = [lexical.path.parent] + ([] if settings.chroma.host else [settings.home / "chroma"])
        self.disk = DiskGuard(folders, settings.corpus.min_free_mb)

    def ingest(
        self,
        paths: Iterable[str | Path],
        progress: bool | None = None,
        on_progress: ProgressCallback | None = None,
        limit: int | None = None,
        limits: ReadLimits | None = None,
    ) -> IngestReport:
        """Ingest corpus files. Raises `CorpusFormatError`, before writing anything, if a file can't be read,
        and `CorpusTooLarge` when a file passes one of ``limits`` (per file; before anything is written where
        a first pass over the file shows it, else when the read reaches the limit)."""
        paths = [Path(p) for p in paths]
        if not paths:
            raise CorpusFormatError("no corpus files given")
        formats = []
        for path in paths:  # every file must be readable before anything is written
            if not path.is_file():
                raise CorpusFormatError(f"{path}: no such file")
            formats.append(detect_format(path))
        counts = [count_records(p, f, limits) for p, f in zip(paths, formats)]
        total = None if any(c is None for c in counts) else sum(counts)  # type: ignore[arg-type]
        total = min(total, limit) if limit and total is not None else (total if total is not None else limit)
        report = IngestReport(files=[str(p) for p in paths])
        return self.ingest_records(self._records(paths, formats, limit, limits), report, total, progress, on_progress)

    def ingest_records(
        self,
        records: Records,
        report: IngestReport | None = None,
        total: int | None = None,
        progress: bool | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> IngestReport:
        """Ingest papers from any source (files, a feed): each new, changed or unchanged by content hash.
        Another ingest into this index from this process waits until this one is done."""
        with self._lock:
            return self._ingest_records(records, report or IngestReport(), total, progress, on_progress)

    def _ingest_records(
        self, records: Records, report: IngestReport, total: int | None, progress: bool | None, on_progress: ProgressCallback | None
    ) -> IngestReport:
        self.store.claim_vectors(self.embedder.name)
        self.disk.check_writable()
        self.disk.check_free_space()
        self.store.settle()
        started = time.perf_counter()
        bar = _progress_bar(total, progress)
        seen: dict[str, tuple[str, str]] = {}  # paper id -> (content hash, where it was read) in this run
        self.lexical.mark_dirty()
        # A run after an unfinished one also clears stray chunks of the papers it writes as new: the killed
        # run may have left chunks of a longer, older text of the same paper.
        self._resuming = self.store.ingest_unfinished()
        self.store.mark_ingesting(True)
        writer = _Writer()
        hashes = _RecentHashes()
        read = 0
        try:
            batch: list[tuple[Paper, str]] = []
            for item, where in records:
                read += 1
                bar.update(1)
                if on_progress:
                    on_progress(read, total)
                if isinstance(item, Skipped):
                    report.skipped.append(item)
                    continue
                content_hash = hashes.of(item)
                earlier = seen.get(item.paper_id)
                if earlier:
                    if earlier[0] == content_hash:
                        report.unchanged += 1
                    else:
                        report.skipped.append(
                            Skipped(location=where, reason=f"duplicate id {item.paper_id} with different text; kept the record at {earlier[1]}")
                        )
                    continue
                seen[item.paper_id] = (content_hash, where)
                batch.append((item, content_hash))
                if len(batch) >= self.batch_size:
                    self.disk.check_free_space(report)
                    self._embed_and_write(batch, report, writer)
                    bar.set_postfix(chunks=report.chunks, refresh=False)
                    batch = []
            if batch:
                self.disk.check_free_space(report)
                self._embed_and_write(batch, report, writer)
            writer.wait()
            memory.release_freed_memory()
        finally:
            writer.close()  # on Ctrl-C the batch being written is finished first
            bar.close()
            try:
                self.store.settle()  # a failed run too: what it wrote must stay readable
            except StoreError:
                log.exception("couldn't bring the Chroma store up to date after the ingest")
        # Only a change moves the generation: other processes then re-check their BM25 side, and an
        # update that changed nothing costs them nothing.
        changed_anything = report.added or report.updated
        self.lexical.mark_clean(self.store.bump_generation() if changed_anything else self.store.generation())
        self.store.mark_ingesting(False)
        report.seconds = time.perf_counter() - started
        return report

    def _records(
        self, paths: list[Path], formats: list[str], limit: int | None, limits: ReadLimits | None
    ) -> Iterator[tuple[Paper | Skipped, str]]:
        produced = 0
        for path, fmt in zip(paths, formats):
            for where, item in read_records(path, self.settings.corpus.max_record_chars, fmt, limits):
                if limit is not None and produced >= limit:
                    return
                produced += 1
                yield item, where

    def _embed_and_write(self, batch: list[tuple[Paper, str]], report: IngestReport, writer: "_Writer") -> None:
        metadatas = stored_metadatas(self.store, [p.paper_id for p, _ in batch])
        stored = {pid: meta.get("hash", "") for pid, meta in metadatas.items()}
        fresh = [(p, h) for p, h in batch if stored.get(p.paper_id) != h]
        report.unchanged += len(batch) - len(fresh)
        # Unchanged papers whose upvotes or links moved get them written over their records; nothing is embedded.
        moved = [(p.paper_id, c) for p, h in batch if stored.get(p.paper_id) == h and (c := extras_changes(p, metadatas[p.paper_id]))]
        if moved:
            writer.submit(self._refresh, moved, report)
        if not fresh:
            return
        changed = [p.paper_id for p, _ in fresh if p.paper_id in stored]
        if self._resuming:
            changed_or_stray = [p.paper_id for p, _ in fresh]
        else:
            changed_or_stray = changed

        chunking = self.settings.chunking
        per_paper: list[list[Chunk]] = [
            chunk_paper(p, self.embedder.count_tokens, chunking.max_tokens, chunking.overlap_sentences, chunking.max_sentences) for p, _ in fresh
        ]
        texts = [embedding_text(p.title, c.text) for (p, _), chunks in zip(fresh, per_paper) for c in chunks]
        # One call for the chunks and the papers' own vectors (the whole abstract, cut at MiniLM's 256 word
        # pieces): the token-budget batching inside packs the short and the long texts efficiently.
        encoded = self.embedder.encode(texts + [paper_text(p) for p, _ in fresh])
        vectors, paper_vectors = encoded[: len(texts)], encoded[len(texts) :]

        ids, documents, metadatas = [], [], []
        for (paper, content_hash), chunks in zip(fresh, per_paper):
            base = {"paper_id": paper.paper_id, "date": paper.date_int, "hash": content_hash}
            if paper.categories:
                base["categories"] = list(paper.categories)
            for chunk in chunks:
                ids.append(chunk.chunk_id)
                documents.append(chunk.text)
                metadatas.append({**base, "chunk": chunk.index, "start": chunk.start, "end": chunk.end})

        papers = ([p.paper_id for p, _ in fresh], paper_vectors, [p.abstract for p, _ in fresh],
                  [paper_metadata(p, h, len(c)) for (p, h), c in zip(fresh, per_paper)])
        writer.submit(self._write, changed_or_stray, (ids, vectors, documents, metadatas), papers, fresh, report, len(changed))

    def _write(self, replaced: list[str], chunks: tuple, papers: tuple, fresh: list[tuple[Paper, str]],
               report: IngestReport, updated: int) -> None:
        # Checked here, on the writer thread, where no other write of this run is in flight.
        self.disk.check_free_space(report, chunks=len(chunks[0]))
        free_before = self.disk.free_bytes()
        if replaced:  # old chunks out first: a shorter new abstract must not leave stale chunks behind
            self.store.delete_chunks_of(replaced)
        if chunks[0]:
            self.store.upsert_chunks(*chunks)
        # The paper record goes last: it is what marks the paper as fully indexed.
        self.store.upsert_papers(*papers)
        self.lexical.upsert(fresh)
        self.disk.note_disk_use(free_before, len(chunks[0]))
        report.added += len(fresh) - updated  # counted once written: a stopped run reports what it kept
        report.updated += updated
        report.chunks += len(chunks[0])


    def _refresh(self, moved: list[tuple[str, dict]], report: IngestReport) -> None:
        update_metadata(self.store, [pid for pid, _ in moved], [changes for _, changes in moved])
        report.refreshed += len(moved)


class _RecentHashes:
    """Content hashes of the papers read last, by object: a repeated record comes back from the reader as the
    same `Paper`, and is not hashed again. Holds at most `MAX` papers (they stay alive while held, so an
    object's id is never reused meanwhile), forgotten all at once when full."""

    MAX = 256

    def __init__(self) -> None:
        self._held: dict[int, tuple[Paper, str]] = {}

    def of(self, paper: Paper) -> str:
        held = self._held.get(id(paper))
        if held is not None and held[0] is paper:
            return held[1]
        if len(self._held) >= self.MAX:
            self._held.clear()
        content_hash = paper.content_hash()
        self._held[id(paper)] = (paper, content_hash)
        return content_hash


class _Writer:
    """One background thread for the store writes, one batch in flight at a time, in order."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rag-ingest-writer")
        self._pending: Future | None = None

    def submit(self, fn, *args) -> None:
        self.wait()  # the previous batch is written (or its error raised) before the next one starts
        self._pending = self._pool.submit(fn, *args)

    def wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        try:
            self.wait()
        except Exception:  # noqa: BLE001 - already failing or interrupted: the first error is the one to show
            log.exception("a batch write failed while the ingest was stopping")
        finally:
            self._pool.shutdown(wait=True)


def _progress_bar(total: int | None, progress: bool | None):
    from tqdm.auto import tqdm

    # progress=None: a bar on a terminal, none in pipes and tests; shown only for long inputs.
    disable = (not progress) if progress is not None else None
    if progress is None and total is not None and total < 500:
        disable = True
    # Forced on outside a terminal (a log file), it writes a line every 30 s rather than every update.
    import sys

    interval = 30.0 if progress and not sys.stderr.isatty() else 0.1
    return tqdm(total=total, unit=" papers", disable=disable, dynamic_ncols=True, smoothing=0.1, mininterval=interval)
