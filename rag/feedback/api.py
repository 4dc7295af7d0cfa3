"""`Assistant`'s feedback methods, as a mixin the assistant inherits (assistant.py stays within its size).

The assistant remembers the answers it gives (`answers`, bounded); `feedback` takes a user's judgement of
one of them and stores it in RAG_HOME/feedback.sqlite (`feedback_store`), on this machine only.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from rag.feedback.checks import checked
from rag.feedback.memory import AnswerMemory
from rag.feedback.records import Feedback
from rag.feedback.store import FEEDBACK_FILE, FeedbackStore
from rag.settings import Settings
from rag.types import Answer

_made = threading.Lock()  # the memory and the store are made once, whichever thread asks first


class FeedbackMixin:
    settings: Settings

    @property
    def answers(self) -> AnswerMemory:
        """The answers given lately (`rag.feedback.AnswerMemory`): feedback is taken on these only."""
        if "_answers" not in self.__dict__:
            with _made:
                self.__dict__.setdefault("_answers", AnswerMemory())
        return self.__dict__["_answers"]

    @property
    def feedback_store(self) -> FeedbackStore:
        """The feedback stored under RAG_HOME (`rag.feedback.FeedbackStore`: list, get, delete)."""
        if "_feedback_store" not in self.__dict__:
            with _made:
                self.__dict__.setdefault("_feedback_store", FeedbackStore(self.settings.home / FEEDBACK_FILE))
        return self.__dict__["_feedback_store"]

    def feedback(
        self,
        answer: Answer,
        rating: int,
        comment: str = "",
        wrong_citations: Iterable[int] | None = None,
        missing_paper: str | None = None,
    ) -> Feedback:
        """Store what the user thought of ``answer``, one this assistant gave: ``rating`` +1 (thumbs up) or -1
        (thumbs down), an optional note, the numbers of the citations whose source doesn't say what the answer
        says, and a paper (id or title) that answers the question. Kept in RAG_HOME/feedback.sqlite, on this
        machine; feedback on the same answer again replaces it. Returns the stored row.

        Bad input raises `rag.InvalidFeedback` saying what to give instead; an answer this assistant didn't
        give (another process's, one rebuilt from JSON, or one of more than 1,000 answers ago) raises
        `rag.UnknownAnswer`. `rag feedback export` turns the rows into questions for `rag eval`.
        """
        given = self.answers.recall(answer)
        return self.feedback_store.save(checked(given, rating, comment, wrong_citations, missing_paper, papers=self))

    def close_feedback(self) -> None:
        store = self.__dict__.get("_feedback_store")
        if store is not None:
            store.close()
