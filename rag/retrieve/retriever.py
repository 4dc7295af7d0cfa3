"""Dense, lexical and fused retrieval of papers.

Dense search runs over chunks (MiniLM, cosine) and a paper scores its best chunk; lexical search is BM25
over the paper's title and abstract. The union of both candidate lists is scored exactly on both sides (a
paper missing from one list is not a zero there), then fused (`rag.retrieve.fusion`). Measured against each
side alone and against reciprocal-rank fusion in BENCHMARKS.md.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

import numpy as np

from rag.index.chroma import ChromaStore, ChunkMatch
from rag.index.embedding import Embedder
from rag.index.lexical import LexicalIndex
from rag.retrieve.fusion import fuse, ranked
from rag.settings import Settings
from rag.types import Filters, Hit, Passage

log = logging.getLogger(__name__)

RetrieverName = Literal["hybrid", "dense", "bm25"]
PASSAGES_PER_HIT = 3


class Retriever:
    def __init__(self, settings: Settings, store: ChromaStore, lexical: LexicalIndex, embedder: Embedder) -> None:
        self.settings = settings
        self.store = store
        self.lexical = lexical
        self.embedder = embedder

    def retrieve(
        self,
        query: str,
        k: int | None = None,
        filters: Filters | None = None,
        retriever: RetrieverName | None = None,
        dense_weight: float | None = None,
        query_vector: np.ndarray | None = None,
    ) -> list[Hit]:
        cfg = self.settings.retrieval
        k = k or cfg.k
        retriever = retriever or cfg.mode
        weight = cfg.dense_weight if dense_weight is None else dense_weight
        if retriever == "dense":
            weight = 1.0
        elif retriever == "bm25":
            weight = 0.0
        n = max(cfg.candidates, k)
        qvec = query_vector if query_vector is not None else self.embedder.encode([query])[0]

        dense: dict[str, float] = {}
        passages: dict[str, list[ChunkMatch]] = {}
        if weight > 0:
            for match in self.store.query_chunks(qvec, n * 2, filters):
                passages.setdefault(match.paper_id, []).append(match)
            dense = {pid: max(m.similarity for m in ms) for pid, ms in passages.items()}
            dense = dict(sorted(dense.items(), key=lambda kv: -kv[1])[:n])
        lexical: dict[str, float] = {}
        if weight < 1:
            lexical = dict(self.lexical.search(query, n, filters))

        candidates = list(dict.fromkeys([*dense, *lexical]))
        if 0 < weight < 1:
            # Score every candidate on both sides: a paper BM25 found but whose chunks fell outside the
            # dense top-n still has a real similarity, and vice versa.
            missing_lexical = [pid for pid in candidates if pid not in lexical]
            lexical.update({pid: 0.0 for pid in missing_lexical})
            lexical.update(self.lexical.scores_for(query, missing_lexical))
            self._add_passages([pid for pid in candidates if pid not in passages], qvec, passages)
            dense.update({pid: max((m.similarity for m in passages.get(pid, [])), default=0.0) for pid in candidates if pid not in dense})

        fused = fuse(dense, lexical, weight, cfg.fusion)
        best = ranked(fused, k)
        self._add_passages([pid for pid in best if pid not in passages], qvec, passages)
        return self._hits(best, fused, dense, lexical, passages)

    def _add_passages(self, paper_ids: list[str], qvec: np.ndarray, passages: dict[str, list[ChunkMatch]]) -> None:
        """Score every chunk of ``paper_ids`` against the query (for papers the dense search didn't reach)."""
        if not paper_ids:
            return
        for c in self.store.chunk_vectors_of(paper_ids):
            passages.setdefault(c.paper_id, []).append(ChunkMatch(c.chunk_id, c.paper_id, float(c.vector @ qvec), c.text, c.start, c.end))

    def _hits(
        self,
        ranked: Sequence[str],
        fused: dict[str, float],
        dense: dict[str, float],
        lexical: dict[str, float],
        passages: dict[str, list[ChunkMatch]],
    ) -> list[Hit]:
        papers = self.store.get_papers(ranked)
        hits = []
        for pid in ranked:
            paper = papers.get(pid)
            if paper is None:  # removed between the search and now
                continue
            best = sorted(passages.get(pid, []), key=lambda m: -m.similarity)[:PASSAGES_PER_HIT]
            hits.append(
                Hit(
                    paper_id=pid,
                    title=paper.title,
                    score=round(float(fused[pid]), 6),
                    dense_score=round(float(dense.get(pid, 0.0)), 6),
                    lexical_score=round(float(lexical.get(pid, 0.0)), 6),
                    chunks=[Passage(text=m.text, start=m.start, end=m.end, score=round(m.similarity, 6)) for m in best],
                    abstract=paper.abstract,
                    authors=paper.authors,
                    date=paper.date,
                    categories=paper.categories,
                    url=paper.url,
                )
            )
        return hits
