"""Sentence-aware chunks sized for the embedder, each with its character span in the abstract.

A chunk is a run of whole sentences (`rag.text.sentences`) whose word pieces, title included, fit
``max_tokens``; a sentence longer than that is cut at word boundaries. LlamaIndex's `SentenceSplitter`
counts tiktoken tokens, not the word pieces MiniLM actually reads, and loses the exact spans a citation needs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from rag.text.sentences import Sentence, split_sentences
from rag.types import Chunk, Paper

TokenCounter = Callable[[Sequence[str]], list[int]]


def chunk_paper(
    paper: Paper, count_tokens: TokenCounter, max_tokens: int = 128, overlap: int = 1, max_sentences: int = 0
) -> list[Chunk]:
    """Pack whole sentences into chunks whose title + text fit ``max_tokens`` word pieces.

    ``overlap`` sentences are repeated at the start of the next chunk so that a fact stated across a
    sentence boundary is still whole in one chunk.
    """
    sentences = split_sentences(paper.abstract)
    if not sentences:
        return []
    title_tokens = count_tokens([paper.title + ":"])[0]
    # [CLS] and [SEP] take two places; the title is embedded with every chunk.
    budget = max(16, max_tokens - 2 - title_tokens)
    pieces: list[Sentence] = []
    counts: list[int] = []
    for sentence, n in zip(sentences, count_tokens([s.text for s in sentences])):
        if n <= budget:
            pieces.append(sentence)
            counts.append(n)
        else:  # rare: only the cut pieces are counted again
            cut = _cut_long(sentence, budget, count_tokens)
            pieces.extend(cut)
            counts.extend(count_tokens([p.text for p in cut]))

    chunks: list[Chunk] = []
    i = 0
    while i < len(pieces):
        j, used = i, 0
        while j < len(pieces) and (j == i or (used + counts[j] <= budget and (not max_sentences or j - i < max_sentences))):
            used += counts[j]
            j += 1
        start, end = pieces[i].start, pieces[j - 1].end
        chunks.append(
            Chunk(
                chunk_id=chunk_id(paper.paper_id, len(chunks)),
                paper_id=paper.paper_id,
                index=len(chunks),
                text=paper.abstract[start:end],
                start=start,
                end=end,
            )
        )
        if j >= len(pieces):
            break
        i = max(j - overlap, i + 1) if j - i > 1 else j  # always move forward
    return chunks


def _cut_long(sentence: Sentence, budget: int, count_tokens: TokenCounter) -> list[Sentence]:
    """Cut an over-long sentence at word boundaries into pieces of at most ``budget`` word pieces."""
    words = list(re.finditer(r"\S+", sentence.text))
    pieces: list[Sentence] = []
    i = 0
    while i < len(words):
        lo, hi = i + 1, len(words)
        # The largest j with words[i:j] within budget (binary search: counting is the costly part).
        while lo < hi:
            mid = (lo + hi + 1) // 2
            text = sentence.text[words[i].start() : words[mid - 1].end()]
            if count_tokens([text])[0] <= budget:
                lo = mid
            else:
                hi = mid - 1
        j = max(lo, i + 1)
        s, e = words[i].start(), words[j - 1].end()
        pieces.append(Sentence(sentence.text[s:e], sentence.start + s, sentence.start + e))
        i = j
    return pieces


def chunk_id(paper_id: str, index: int) -> str:
    """A chunk's id: deterministic, so a resumed ingest overwrites rather than doubles, and the store can
    fetch a paper's chunks by id from the count its paper record keeps."""
    return f"{paper_id}::{index}"


def paper_of_chunk(chunk_id: str) -> str:
    """The paper a chunk id belongs to (the part before the last ``::``; a paper id may hold ``::`` itself)."""
    return chunk_id.rsplit("::", 1)[0]


def embedding_text(title: str, chunk_text: str) -> str:
    """What the embedder reads for a chunk: the title carries the paper's topic into every chunk."""
    return f"{title}: {chunk_text}"


def paper_text(paper: Paper) -> str:
    """What the embedder reads for a paper's own vector: its title and whole abstract (MiniLM cuts it at
    256 word pieces, which holds most abstracts' opening and findings)."""
    return f"{paper.title}. {paper.abstract}"
