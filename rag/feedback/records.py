"""`Feedback`: one stored row. Everything needed later is in it (the answer as given, the named paper's
abstract), so listing and exporting never need the index, and survive changes to it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from rag.types import Answer


class MissingPaper(BaseModel):
    """A paper the user says answers the question, as indexed when the feedback was given."""

    paper_id: str
    title: str
    abstract: str = ""


class Feedback(BaseModel):
    """What a user thought of one answer."""

    id: int
    answer_id: str
    created: str  # ISO 8601, UTC
    updated: str  # the same, or when the feedback on this answer was last changed
    rating: Literal[-1, 1]
    question: str  # as the user typed it
    history: list[dict] = []  # the conversation it answered: role, content, paper_ids
    answer: Answer  # as the assistant gave it: text, citations, notes, mode
    comment: str = ""
    wrong_citations: list[int] = []  # citation numbers whose source doesn't say what the answer says
    missing_paper: MissingPaper | None = None

    @property
    def kept_citations(self) -> list:
        """The answer's citations the user did not mark wrong."""
        return [c for c in self.answer.citations if c.number not in self.wrong_citations]
