"""Sentences with exact character spans.

Why our own splitter rather than LlamaIndex's `SentenceSplitter` or NLTK's punkt: on the bundled abstracts
punkt cut 13 sentences at "et al." and "e.g." and left sentences glued where arXiv text lost a space
("padding.We"), and both lose the exact spans a citation needs (``text[s.start:s.end] == s.text``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

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
    """`split_sentences`, remembered: the same abstracts are split for every question about them."""
    return tuple(split_sentences(text))
