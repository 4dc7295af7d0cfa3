"""What every answerer takes and gives: a `Question` on its way through, and an `AnswerStream`.

A question travels once: cleaned and resolved against the conversation (by the LLM when one answers, else
by the offline rules), embedded once, its papers retrieved once; the answerer gets all of that in one
`Question` and builds the final `Answer` itself, notes included. Nothing patches an answer afterwards.

`AnswerStream` is what `Assistant.stream` returns (as privateGPT's ``CompletionGen`` does): iterating it
yields the text pieces as they are produced, and ``.answer`` holds the final `Answer` (reading it first
runs the stream to its end). Callers never split a union of text and answers.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from rag.answer.conversation import ResolvedQuestion
from rag.types import Answer, Citation, Hit

# An answerer's work: text pieces as they are produced, and the final Answer as the generator's return value.
AnswerPieces = Generator[str, None, Answer]


@dataclass
class Question:
    """A question ready to answer: its text, what the user should know, the conversation it belongs to,
    its vector and the papers retrieved for it."""

    text: str  # the user's question, cleaned, instructions set aside
    resolved: ResolvedQuestion  # the follow-up resolved: what was searched, which papers were cited before
    vector: np.ndarray  # the embedding of ``text``
    hits: list[Hit] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # a cut question, ignored instructions, a fallback
    fallback: bool = False  # answered extractively because the LLM was unavailable

    @property
    def asked(self) -> str:
        """What the answer should answer: the standalone rewrite of a follow-up when there is one."""
        return self.resolved.standalone or self.text


class Answerer(Protocol):
    name: str

    def answer(self, question: Question) -> AnswerPieces: ...


class AnswerStream:
    """The text of an answer as it is produced; ``.answer`` is the whole `Answer` once it is done."""

    def __init__(self, pieces: AnswerPieces) -> None:
        self._pieces = pieces
        self._answer: Answer | None = None

    def __iter__(self) -> Iterator[str]:
        if self._answer is None:
            self._answer = yield from self._pieces

    @property
    def answer(self) -> Answer:
        """The final answer; the rest of the stream is run (and its text dropped) if it wasn't read."""
        if self._answer is None:
            for _ in self:
                pass
        assert self._answer is not None
        return self._answer


def citation_for(number: int, hit: Hit, text: str, spans: list[tuple[int, int]], **checks) -> Citation:
    """A citation of ``hit`` carrying the paper itself, so nothing needs to read it from the store again."""
    return Citation(
        number=number,
        paper_id=hit.paper_id,
        title=hit.title,
        text=text,
        spans=spans,
        score=hit.score,
        url=hit.url,
        abstract=hit.abstract,
        authors=list(hit.authors),
        date=hit.date,
        categories=list(hit.categories),
        **checks,
    )


def refusal(question: Question, text: str, mode: str) -> Answer:
    return Answer(
        question=question.text, text=text, refused=True, mode="fallback" if question.fallback else mode,
        notes=list(question.notes), query=question.resolved.search_query,
    )
