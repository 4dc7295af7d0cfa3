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

from rag.index.chroma import ChromaStore
from rag.index.chunking import paper_of_chunk
from rag.index.embedding import Embedder
from rag.index.lexical import LexicalIndex
from rag.retrieve.fusion import fuse_views, ranked
from rag.settings import Settings
from rag.types import Filters, Hit, Passage

log = logging.getLogger(__name__)

RetrieverName = Literal["hybrid", "dense", "bm25"]
PASSAGES_PER_HIT = 3
ChunkScores = dict[str, dict[str, float]]  # paper id -> {chunk id: cosine to the query}


class Retriever:
    def __init__(self, settings: Settings, store: ChromaStore, lexical: LexicalIndex, embedder: Embedder) -> None:
        self.settings = settings
        self.store = store
        self.lexical = lexical
        self.embedder = embedder

    def weights(self, retriever: RetrieverName | None, dense_weight: float | None) -> dict[str, float]:
        """Each view's share of the fused score: dense chunks, the papers' own vectors, BM25."""
        cfg = self.settings.retrieval
        retriever = retriever or cfg.mode
        if retriever == "dense":
            return {"dense": 1.0}
        if retriever == "bm25":
            return {"lexical": 1.0}
        dense = cfg.dense_weight if dense_weight is None else dense_weight
        # The abstract view needs papers stored with their own vectors (indexes built before hold the mean
        # of their chunks' vectors, which retrieved worse: BENCHMARKS.md): without them it sits out.
        abstract = cfg.abstract_weight if self.store.abstract_vectors else 0.0
        abstract = min(abstract, 1.0 - dense)
        return {"dense": dense, "abstract": abstract, "lexical": max(0.0, 1.0 - dense - abstract)}

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
        weights = self.weights(retriever, dense_weight)
        n = max(cfg.candidates, k)
        qvec = query_vector if query_vector is not None else self.embedder.encode([query])[0]

        views: dict[str, dict[str, float]] = {"dense": {}, "abstract": {}, "lexical": {}}
        # Chunks are scored by id; only the shown ones' texts are read back, at the end (`_hits`).
        passages: ChunkScores = {}
        if weights.get("dense", 0) > 0:
            for cid, similarity in self.store.nearest_chunks(qvec, n * 2, filters).items():
                passages.setdefault(paper_of_chunk(cid), {})[cid] = similarity
            dense = {pid: max(chunks.values()) for pid, chunks in passages.items()}
            views["dense"] = dict(sorted(dense.items(), key=lambda kv: -kv[1])[:n])
        if weights.get("abstract", 0) > 0:
            views["abstract"] = self.store.query_papers(qvec, n, filters)
        if weights.get("lexical", 0) > 0:
            views["lexical"] = dict(self.lexical.search(query, n, filters))

        candidates = list(dict.fromkeys(pid for view in views.values() for pid in view))
        used = [name for name, w in weights.items() if w > 0]
        if len(used) > 1:
            # Score every candidate on every side: a paper BM25 found but whose chunks fell outside the
            # dense top-n still has a real similarity, and vice versa.
            self._complete(views, used, candidates, query, qvec, passages)

        fused = fuse_views(views, weights, cfg.fusion)
        best = ranked(fused, k)
        self._add_passages([pid for pid in best if pid not in passages], qvec, passages)
        if "abstract" not in used and self.store.abstract_vectors:
            views["abstract"] = self._abstract_scores(best, qvec)
        return self._hits(best, fused, views, passages)

    def _complete(self, views: dict[str, dict[str, float]], used: list[str], candidates: list[str], query: str,
                  qvec: np.ndarray, passages: ChunkScores) -> None:
        """Every view's exact score for every candidate."""
        if "lexical" in used:
            missing = [pid for pid in candidates if pid not in views["lexical"]]
            views["lexical"].update({pid: 0.0 for pid in missing})
            views["lexical"].update(self.lexical.scores_for(query, missing))
        if "dense" in used:
            self._add_passages([pid for pid in candidates if pid not in passages], qvec, passages)
            views["dense"].update({
                pid: max(passages.get(pid, {}).values(), default=0.0) for pid in candidates if pid not in views["dense"]
            })
        if "abstract" in used:
            views["abstract"].update(self._abstract_scores([pid for pid in candidates if pid not in views["abstract"]], qvec))

    def _abstract_scores(self, paper_ids: list[str], qvec: np.ndarray) -> dict[str, float]:
        if not paper_ids:
            return {}
        return {pid: float(vec @ qvec) for pid, vec in self.store.paper_vectors(paper_ids).items()}

    def _add_passages(self, paper_ids: list[str], qvec: np.ndarray, passages: ChunkScores) -> None:
        """Score every chunk of ``paper_ids`` against the query (for papers the dense search didn't reach)."""
        if not paper_ids:
            return
        ids, vectors = self.store.chunk_vectors(paper_ids)
        if not ids:
            return
        for cid, similarity in zip(ids, np.stack(vectors) @ qvec):
            passages.setdefault(paper_of_chunk(cid), {})[cid] = float(similarity)

    def _hits(
        self, ranked: Sequence[str], fused: dict[str, float], views: dict[str, dict[str, float]],
        passages: ChunkScores,
    ) -> list[Hit]:
        papers = self.store.get_papers(ranked)
        best = {pid: sorted(passages.get(pid, {}).items(), key=lambda kv: -kv[1])[:PASSAGES_PER_HIT] for pid in ranked}
        spans = self.store.chunk_spans([cid for chunks in best.values() for cid, _ in chunks])
        hits = []
        for pid in ranked:
            paper = papers.get(pid)
            if paper is None:  # removed between the search and now
                continue
            hits.append(
                Hit(
                    paper_id=pid,
                    title=paper.title,
                    score=round(float(fused[pid]), 6),
                    dense_score=round(float(views["dense"].get(pid, 0.0)), 6),
                    lexical_score=round(float(views["lexical"].get(pid, 0.0)), 6),
                    abstract_score=round(float(views["abstract"].get(pid, 0.0)), 6),
                    chunks=[
                        Passage(text=spans[cid].text, start=spans[cid].start, end=spans[cid].end, score=round(similarity, 6))
                        for cid, similarity in best[pid] if cid in spans
                    ],
                    abstract=paper.abstract,
                    authors=paper.authors,
                    date=paper.date,
                    categories=paper.categories,
                    url=paper.url,
                )
            )
        return hits
