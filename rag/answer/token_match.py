"""How much of the question a paper's text answers to, word piece by word piece.

A sentence's MiniLM vector says what the sentence is about, and a question that describes a real paper but
asks for a detail its abstract doesn't give (a near miss) is about that paper too: pooled cosines can't tell
the two apart. Here every word piece of the question is matched to its most similar word piece anywhere in
the paper's title and sentences (MiniLM's contextual token vectors, ColBERT's MaxSim), and the weakest
matches say what the paper has nothing for. Measured on tuning data before it was used
(`python -m benchmarks.quality.token_match`; BENCHMARKS "The sixth round"): over the voicetrain2 pairs, each
a paper asked once for a detail it gives and once for one it doesn't, the mean of the weakest quarter puts
the pair's answerable question first in 83% of pairs (the fifth round's model: 85%), and beside that model's
probability it raises the AUC of answerable against not from 0.84 to 0.88 (cross-validated).

The model that ships does not read these features: trained with them (the sixth round), the fit spent them on
answering more paraphrases, not on refusing near misses, and refused too few of our floor set's unanswerable
questions (BENCHMARKS "The sixth round"). They are measured for training and for any model that reads them
(``RAG_ANSWER_DECIDER_MODEL``), and cost nothing otherwise.

Only the first `TOKEN_PAPERS` retrieved papers are measured (a forward pass over ~10 sentences each);
the others' features are missing, which the trees handle. A paper's token vectors are kept for the next
question about it.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from rag.index.embedding import Embedder, TokenVectors

TOKEN_PAPERS = 3
# Word pieces of words and numbers ('##' continues a word); punctuation and [UNK] match nothing in particular.
_WORD_PIECE = re.compile(r"^(?:[^\W_]|##)", re.UNICODE)


def coverage(question: TokenVectors, paper: Sequence[TokenVectors]) -> tuple[float, float]:
    """(mean of the weakest quarter, mean) over the question's word pieces of each one's best cosine with
    any word piece of the paper; NaN when either side has none."""
    keep = [i for i, t in enumerate(question.tokens) if _WORD_PIECE.match(t)]
    matrix = [tv.vectors for tv in paper if len(tv.tokens)]
    if not keep or not matrix:
        return float("nan"), float("nan")
    best = np.sort((question.vectors[keep] @ np.concatenate(matrix).T).max(axis=1))
    return float(best[: max(1, len(best) // 4)].mean()), float(best.mean())


class TokenMatcher:
    """`coverage` of a question by each of its first retrieved papers, papers' token vectors cached."""

    def __init__(self, embedder: Embedder, capacity: int = 256) -> None:
        self.embedder = embedder
        self.capacity = capacity
        self._cache: OrderedDict[tuple[str, int], list[TokenVectors]] = OrderedDict()
        self._lock = threading.Lock()

    def _papers(self, papers: Sequence[tuple[str, str, Sequence[str]]]) -> list[list[TokenVectors]]:
        keys = [(pid, hash((title, *texts))) for pid, title, texts in papers]
        with self._lock:
            found = {key: self._cache[key] for key in keys if key in self._cache}
        todo = [(key, [title, *texts]) for key, (_, title, texts) in zip(keys, papers) if key not in found]
        if todo:
            vectors = self.embedder.token_vectors([text for _, texts in todo for text in texts])
            at = 0
            for key, texts in todo:
                found[key] = vectors[at : at + len(texts)]
                at += len(texts)
            with self._lock:
                for key, _ in todo:
                    self._cache[key] = found[key]
                while len(self._cache) > self.capacity:
                    self._cache.popitem(last=False)
        return [found[key] for key in keys]

    def measure(self, question: str, papers: Sequence[tuple[str, str, Sequence[str]]]) -> np.ndarray:
        """One row (weakest quarter, mean) per paper given as (paper id, title, sentence texts); NaN rows
        past the first `TOKEN_PAPERS`."""
        out = np.full((len(papers), 2), np.nan)
        measured = list(papers[:TOKEN_PAPERS])
        if not measured or not question.strip():
            return out
        (asked,) = self.embedder.token_vectors([question])
        for i, paper in enumerate(self._papers(measured)):
            out[i] = coverage(asked, paper)
        return out
