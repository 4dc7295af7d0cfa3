"""Sentence-aware chunks sized for the embedder, each with its character span in the abstract.

Why our own splitter rather than LlamaIndex's `SentenceSplitter` or NLTK's punkt: on the bundled abstracts
punkt cut 13 sentences at "et al." and "e.g." and left sentences glued where arXiv text lost a space
("padding.We"); both lose the exact spans a citation needs; and `SentenceSplitter` counts tiktoken tokens,
not the word pieces MiniLM actually reads. A chunk is a run of whole sentences whose word pieces,
title included, fit `max_tokens`; a sentence longer than that is cut at word boundaries.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from rag.types import Chunk, Paper

# Words that end with a period without ending a sentence.
_ABBREVIATIONS = {
    "al", "e.g", "i.e", "vs", "cf", "fig", "figs", "eq", "eqs", "sec", "ref", "refs", "resp", "approx",
    "dr", "prof", "mr", "ms", "no", "nos", "vol", "ch", "u.s", "st", "viz", "ca", "est", "incl", "w.r.t",
}
# A boundary: ., ! or ? (plus closing quotes/brackets), then space, then something that can start a
# sentence. Also a period glued to a capitalised word ("padding.We"), a common arXiv artefact.
_BOUNDARY = re.compile(r"""[.!?]["')\]]*(?=\s+["'(\[$\\]?[A-Z0-9])|(?<=[a-z]{2}\.)(?=[A-Z][a-z])""")
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)\.$")


@dataclass(frozen=True)
class Sentence:
    text: str
    start: int
    end: int


def split_sentences(text: str) -> list[Sentence]:
    """Sentences of ``text`` with their spans; ``text[s.start:s.end] == s.text`` always holds."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end()
        head = text[start:end].rstrip("\"')] ")
        word = _WORD_BEFORE.search(head)
        if word:
            token = word.group(1).lower()
            if token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha() and word.group(1).isupper()):
                continue  # "et al.", "e.g.", an initial such as "J."
        if text[start:end].strip():
            spans.append((start, end))
        start = end
    if text[start:].strip():
        spans.append((start, len(text)))
    sentences = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            sentences.append(Sentence(text[s:e], s, e))
    return sentences


@lru_cache(maxsize=4096)
def cached_sentences(text: str) -> tuple[Sentence, ...]:
    return tuple(split_sentences(text))


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
                chunk_id=f"{paper.paper_id}::{len(chunks)}",
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


def embedding_text(title: str, chunk_text: str) -> str:
    """What the embedder reads for a chunk: the title carries the paper's topic into every chunk."""
    return f"{title}: {chunk_text}"
