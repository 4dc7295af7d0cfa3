"""From what a caller typed to the papers of a question: checked, cleaned, its instructions set aside,
resolved against the conversation, embedded and searched. `Assistant` walks every question through here
once, then hands the `Question` to an answerer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import ValidationError

from rag.answer.conversation import ResolvedQuestion, resolve
from rag.answer.support import is_refusal
from rag.errors import InvalidQuestion
from rag.index.embedding import Embedder
from rag.index.lexical import LexicalIndex
from rag.retrieve.retriever import Retriever
from rag.settings import Settings
from rag.text.clean import clean_text, replace_surrogates
from rag.text.instructions import split_instructions
from rag.text.markers import strip_markers
from rag.types import Filters, Hit

FiltersLike = Filters | dict[str, Any] | None
# The extractive answerer weighs at least this many papers: it picks the one whose sentences answer, and
# that is often not the first by retrieval score.
EXTRACTIVE_MIN_HITS = 10


MAX_K = 100  # papers one question may ask for (RetrievalSettings.k has the same bound)


def check_filters(value: FiltersLike) -> Filters | None:
    """Filters from a caller, checked before any store is touched; a bad one is the user's to fix."""
    if value is None or isinstance(value, Filters):
        return value
    if not isinstance(value, dict):
        raise InvalidQuestion("Filters must be given as fields: date_from, date_to, categories, paper_ids.")
    try:
        return Filters(**value)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or "filters"
        message = first["msg"].removeprefix("Value error, ")
        if first.get("type") == "extra_forbidden":
            message = "no such filter; use date_from, date_to, categories or paper_ids"
        raise InvalidQuestion(f"The filter {field!r} is not valid: {message}.") from None


def check_k(value: Any, default: int) -> int:
    """``k`` from a caller: a whole number from 1 to `MAX_K` (a digit string from a web form is fine)."""
    if value is None:
        return default
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_K:
        shown = repr(value)[:40]
        raise InvalidQuestion(f"k (the number of papers to consider) must be a whole number from 1 to {MAX_K}; got {shown}.")
    return value


class Asking:
    """The steps from a typed question to its retrieved papers, over the assistant's embedder and indexes."""

    def __init__(self, settings: Settings, embedder: Embedder, lexical: LexicalIndex, retriever: Retriever, refusal: str) -> None:
        self.settings, self.embedder, self.lexical, self.retriever = settings, embedder, lexical, retriever
        self.refusal = refusal  # the answerers' refusal sentence: an earlier turn saying it names no paper

    def clean(self, question: Any) -> tuple[str, list[str]]:
        """The question as text to search and answer, and notes on what was done to it."""
        if not isinstance(question, str):
            raise InvalidQuestion("The question must be text.")
        limit = self.settings.retrieval.max_query_chars
        # Only a bounded head of a huge paste is cleaned: cleaning drops markup and spaces, so four times the
        # limit leaves enough text, and the time taken no longer grows with what was pasted.
        raw = question[: limit * 4]
        text = clean_text(replace_surrogates(raw))
        if not text:
            raise InvalidQuestion("Please type a question; this one is empty.")
        if not re.search(r"\w", text):
            raise InvalidQuestion("Please type a question in words; this one has nothing to search for.")
        notes = []
        if len(text) > limit or len(question) > len(raw):
            notes.append(f"Your question was {len(question):,} characters long; only the first {limit:,} were used.")
            text = text[:limit]
        text, instructions = split_instructions(text)
        if instructions:
            notes.append("Instructions inside the question were not followed; only its question was answered.")
        return text, notes

    def resolve(self, question: str, history: Sequence[dict] | None) -> ResolvedQuestion:
        resolved = resolve(question, history, max_turn_chars=self.settings.retrieval.max_query_chars)
        if resolved.is_followup and not resolved.prior_ids_given and resolved.prior_answer and not is_refusal(resolved.prior_answer, self.refusal):
            # A plain-text history carries no paper ids: the previous answer quotes its sources, so the
            # best BM25 match of that answer is the paper it was about. A refusal, or an answer that came
            # with its (empty) list of papers, names none: the paper a refusal's wording matched best was
            # cited into the next answers out of nowhere (BENCHMARKS, "Load"). Requiring a citation marker
            # instead (f2ceec5) also dropped the plain answers written without markers (BENCHMARKS, "The
            # third held-out scoring").
            cleaned = strip_markers(resolved.prior_answer)
            best = self.lexical.search(cleaned[: self.settings.retrieval.max_query_chars], 1)
            resolved.prior_paper_ids = [best[0][0]] if best else []
        return resolved

    def embed(self, question: str, search_query: str) -> tuple[np.ndarray, np.ndarray]:
        """The vectors of the question and of what is searched, in one call (one when they are the same)."""
        if search_query == question:
            vector = self.embedder.encode([question])[0]
            return vector, vector
        vectors = self.embedder.encode([question, search_query])
        return vectors[0], vectors[1]

    def top(self, hits: list[Hit], n: int, resolved: ResolvedQuestion, vector: np.ndarray) -> list[Hit]:
        """The first ``n`` hits, with the papers the previous answer cited added when none of them is there:
        a follow-up is about them unless another paper clearly fits better (the answerer decides)."""
        top = hits[:n]
        prior = resolved.prior_paper_ids
        if prior and not any(h.paper_id in prior for h in top):
            extra = [h for h in hits[n:] if h.paper_id in prior]
            top += extra or self.retriever.retrieve(
                resolved.search_query, k=len(prior), filters=Filters(paper_ids=prior), query_vector=vector
            )
        return top

    def search(
        self, text: str, resolved: ResolvedQuestion, n: int, filters: Filters | None
    ) -> tuple[np.ndarray, np.ndarray, list[Hit]]:
        """The question's vector, the searched text's vector and its ``n`` best papers."""
        vector, search_vector = self.embed(text, resolved.search_query)
        hits = self.retriever.retrieve(resolved.search_query, k=n, filters=filters, query_vector=search_vector)
        return vector, search_vector, hits
