"""The generative answerer: an LLM writes the answer from the retrieved abstracts, then its citations are
checked (`rag.answer.support`).

Streamed pieces already carry the final citation numbers and lack outside links (`StreamCleaner`); the
`Answer` at the end carries the checked text, the verdict on each claim and the notes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from rag.answer.base import AnswerPieces, Question, refusal
from rag.answer.citations import StreamCleaner
from rag.answer.conversation import validate_history
from rag.answer.llm_client import LLMClient, StreamCut
from rag.answer.prompts import answer_messages, condense_messages, load
from rag.answer.support import CitationChecker
from rag.index.embedding import Embedder
from rag.index.sentence_vectors import SentenceVectors
from rag.settings import Settings
from rag.types import Answer

log = logging.getLogger(__name__)

CONDENSE_MAX_TOKENS = 120


class LLMAnswerer:
    name = "llm"

    def __init__(
        self, settings: Settings, embedder: Embedder, sentence_vectors: SentenceVectors, refusal_text: str,
        client: LLMClient | None = None,
    ) -> None:
        self.settings = settings
        self.refusal = refusal_text
        self.client = client or LLMClient(settings.llm)
        self.answer_template = load(settings.prompts, "answer")
        self.condense_template = load(settings.prompts, "condense")
        self.checker = CitationChecker(embedder, sentence_vectors, settings.answer.min_support, refusal_text)

    def condense(self, question: str, history: Sequence[dict] | None) -> str:
        """The follow-up rewritten by the LLM into a standalone question ("" when it gave nothing usable).

        Raises `LLMUnavailable`/`LLMError` like any call.
        """
        turns = validate_history(history)[-6:]
        if not turns:
            return ""
        text = self.client.complete(condense_messages(self.condense_template, question, turns), max_tokens=CONDENSE_MAX_TOKENS)
        text = " ".join(text.strip().strip('"').split())
        # A rewrite is a question of similar size: anything much longer is the model answering instead.
        if not text or len(text) > max(300, 4 * len(question)):
            return ""
        return text

    def answer(self, question: Question) -> AnswerPieces:
        """Raises `LLMUnavailable` before any text when the endpoint can't be used (the caller falls back)."""
        hits = question.hits
        if not hits:
            yield self.refusal
            return refusal(question, self.refusal, self.name)
        messages = answer_messages(self.answer_template, self.refusal, question.asked, hits)
        shown_text = StreamCleaner(hits)
        raw: list[str] = []
        cut = ""
        try:
            for piece in self.client.stream(messages):
                raw.append(piece)
                shown = shown_text.feed(piece)
                if shown:
                    yield shown
        except StreamCut as exc:
            cut = exc.reason
            log.warning("LLM stream cut: %s", cut)
        rest = shown_text.flush()
        if rest:
            yield rest
        checked = self.checker.check("".join(raw), hits)
        notes = list(question.notes)
        if cut:
            notes.append(f"The generative model's answer was cut off ({cut}); what came before the cut is shown.")
        return Answer(
            question=question.text,
            text=checked.text,
            citations=checked.citations,
            refused=checked.refused,
            mode="llm",
            notes=notes + checked.notes,
            unsupported=checked.unsupported,
            query=question.resolved.search_query,
        )
