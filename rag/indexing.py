"""Ingest: corpus files -> papers -> chunks -> vectors -> Chroma and BM25, idempotent and resumable.

Each batch of papers is looked up by id first: a paper whose content hash is already stored is left alone
(re-ingest is cheap: nothing is embedded), a changed paper has its old chunks deleted before the new ones
go in (never doubled), a new paper is added. Chunk ids are deterministic (``paper_id::n``) and every
write is an upsert, so a run killed at any point and started again converges to the same index.
Within one run the first record of an id wins; a later, different record of the same id is reported.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from rag.chunking import chunk_paper, embedding_text
from rag.corpus import count_records, detect_format, read_records
from rag.embedding import Embedder
from rag.errors import CorpusFormatError
from rag.lexical import LexicalIndex
from rag.settings import Settings
from rag.store import ChromaStore, paper_metadata
from rag.types import Chunk, IngestReport, Paper, Skipped

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int | None], None]  # (papers read so far, total or None)


class Indexer:
    def __init__(self, settings: Settings, store: ChromaStore, lexical: LexicalIndex, embedder: Embedder) -> None:
        self.settings = settings
        self.store = store
        self.lexical = lexical
        self.embedder = embedder
        self.batch_size = 256

    def ingest(
        self,
        paths: Iterable[str | Path],
        progress: bool | None = None,
        on_progress: ProgressCallback | None = None,
        limit: int | None = None,
    ) -> IngestReport:
        """Ingest corpus files. Raises `CorpusFormatError`, before writing anything, if a file can't be read."""
        paths = [Path(p) for p in paths]
        if not paths:
            raise CorpusFormatError("no corpus files given")
        for path in paths:  # every file must be readable before anything is written
            if not path.is_file():
                raise CorpusFormatError(f"{path}: no such file")
            detect_format(path)

        report = IngestReport(files=[str(p) for p in paths])
        started = time.perf_counter()
        total = self._estimate(paths, limit)
        bar = _progress_bar(total, progress)
        seen: dict[str, tuple[str, str]] = {}  # paper id -> (content hash, where it was read) in this run
        self.lexical.mark_dirty()
        read = 0
        try:
            batch: list[tuple[Paper, str]] = []
            for item, where in self._records(paths, limit):
                read += 1
                bar.update(1)
                if on_progress:
                    on_progress(read, total)
                if isinstance(item, Skipped):
                    report.skipped.append(item)
                    continue
                content_hash = item.content_hash()
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
                    self._write(batch, report)
                    batch = []
            if batch:
                self._write(batch, report)
        finally:
            bar.close()
        self.lexical.mark_clean(self.store.bump_generation())
        report.seconds = time.perf_counter() - started
        return report

    def _estimate(self, paths: list[Path], limit: int | None) -> int | None:
        counts = [count_records(p) for p in paths]
        if any(c is None for c in counts):
            return limit
        total = sum(counts)  # type: ignore[arg-type]
        return min(total, limit) if limit else total

    def _records(self, paths: list[Path], limit: int | None) -> Iterator[tuple[Paper | Skipped, str]]:
        produced = 0
        for path in paths:
            for where, item in read_records(path, self.settings.corpus.max_record_chars):
                if limit is not None and produced >= limit:
                    return
                produced += 1
                yield item, where

    def _write(self, batch: list[tuple[Paper, str]], report: IngestReport) -> None:
        stored = self.store.hashes([p.paper_id for p, _ in batch])
        fresh = [(p, h) for p, h in batch if stored.get(p.paper_id) != h]
        report.unchanged += len(batch) - len(fresh)
        if not fresh:
            return
        changed = [p.paper_id for p, _ in fresh if p.paper_id in stored]

        chunking = self.settings.chunking
        per_paper: list[list[Chunk]] = [
            chunk_paper(p, self.embedder.count_tokens, chunking.max_tokens, chunking.overlap_sentences, chunking.max_sentences) for p, _ in fresh
        ]
        texts = [embedding_text(p.title, c.text) for (p, _), chunks in zip(fresh, per_paper) for c in chunks]
        vectors = self.embedder.encode(texts)

        ids, documents, metadatas = [], [], []
        paper_vectors = np.zeros((len(fresh), vectors.shape[1] if len(vectors) else self.embedder.dimensions), np.float32)
        row = 0
        for i, ((paper, content_hash), chunks) in enumerate(zip(fresh, per_paper)):
            base = {"paper_id": paper.paper_id, "date": paper.date_int, "hash": content_hash}
            if paper.categories:
                base["categories"] = list(paper.categories)
            for chunk in chunks:
                ids.append(chunk.chunk_id)
                documents.append(chunk.text)
                metadatas.append({**base, "chunk": chunk.index, "start": chunk.start, "end": chunk.end})
            mean = vectors[row : row + len(chunks)].mean(axis=0) if chunks else np.zeros(paper_vectors.shape[1])
            norm = float(np.linalg.norm(mean))
            paper_vectors[i] = mean / norm if norm else mean
            row += len(chunks)

        if changed:  # old chunks out first: a shorter new abstract must not leave stale chunks behind
            self.store.delete_chunks_of(changed)
        if ids:
            self.store.upsert_chunks(ids, vectors, documents, metadatas)
        # The paper record goes last: it is what marks the paper as fully indexed.
        self.store.upsert_papers(
            [p.paper_id for p, _ in fresh],
            paper_vectors,
            [p.abstract for p, _ in fresh],
            [paper_metadata(p, h, len(c)) for (p, h), c in zip(fresh, per_paper)],
        )
        self.lexical.upsert(fresh)
        report.added += len(fresh) - len(changed)
        report.updated += len(changed)
        report.chunks += len(ids)


def _progress_bar(total: int | None, progress: bool | None):
    from tqdm.auto import tqdm

    # progress=None: a bar on a terminal, none in pipes and tests; shown only for long inputs.
    disable = (not progress) if progress is not None else None
    if progress is None and total is not None and total < 500:
        disable = True
    return tqdm(total=total, unit=" papers", disable=disable, dynamic_ncols=True, smoothing=0.1)
