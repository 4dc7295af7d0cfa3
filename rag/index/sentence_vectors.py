"""A vector for every sentence of the retrieved abstracts, shared by the extractive answerer and the
citation check."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from rag.index.chroma import ChromaStore
from rag.index.chunking import embedding_text
from rag.index.embedding import Embedder
from rag.text.sentences import cached_sentences
from rag.types import Hit


class SentenceVectors:
    """A vector for every sentence of the retrieved abstracts.

    With one-sentence chunks (the default) these are the chunk vectors already in Chroma, fetched in one
    call; only sentences that are not a chunk of their own (other chunking settings, sentences cut for
    length) are embedded now. Recent papers are kept in memory.
    """

    def __init__(self, embedder: Embedder, store: ChromaStore, capacity: int = 4096) -> None:
        self.embedder = embedder
        self.store = store
        self.capacity = capacity
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(hit: Hit) -> str:
        return f"{hit.paper_id}\x00{hash(hit.abstract)}"

    def get(self, hits: Sequence[Hit]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        todo: list[Hit] = []
        with self._lock:
            for hit in hits:
                key = self._key(hit)
                if key in self._cache:
                    self._cache.move_to_end(key)
                    out[hit.paper_id] = self._cache[key]
                elif hit.paper_id not in out:
                    todo.append(hit)
        if not todo:
            return out
        by_span = {(c.paper_id, c.start, c.end): c.vector for c in self.store.chunk_vectors_of([h.paper_id for h in todo])}
        missing: list[tuple[Hit, int, str]] = []
        fresh: dict[str, np.ndarray] = {}
        for hit in todo:
            sentences = cached_sentences(hit.abstract)
            matrix = np.zeros((len(sentences), self.embedder.dimensions), dtype=np.float32)
            for i, sentence in enumerate(sentences):
                vec = by_span.get((hit.paper_id, sentence.start, sentence.end))
                if vec is None:
                    missing.append((hit, i, embedding_text(hit.title, sentence.text)))
                else:
                    matrix[i] = vec
            fresh[hit.paper_id] = matrix
        if missing:
            vectors = self.embedder.encode([text for _, _, text in missing])
            for (hit, i, _), vec in zip(missing, vectors):
                fresh[hit.paper_id][i] = vec
        with self._lock:
            for hit in todo:
                out[hit.paper_id] = self._cache[self._key(hit)] = fresh[hit.paper_id]
            while len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
        return out
