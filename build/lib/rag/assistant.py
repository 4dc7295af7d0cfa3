"""`Assistant`: the one public API. The CLI, the Gradio UI and the evaluation all go through it."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from rag.answering import ExtractiveAnswerer
from rag.conversation import ResolvedQuestion, resolve
from rag.corpus import clean_text
from rag.embedding import Embedder, make_embedder
from rag.errors import InvalidQuestion, LLMError, LLMUnavailable, RagError
from rag.indexing import Indexer, ProgressCallback
from rag.lexical import LexicalIndex
from rag.questions import split_instructions
from rag.retrieval import Mode, Retriever
from rag.settings import Settings
from rag.store import ChromaStore
from rag.types import Answer, Filters, Hit, IngestReport, Paper

log = logging.getLogger(__name__)

FiltersLike = Filters | dict[str, Any] | None
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _filters(value: FiltersLike) -> Filters | None:
    if value is None or isinstance(value, Filters):
        return value
    return Filters(**value)


class Assistant:
    """Question answering over the indexed abstracts.

    >>> assistant = Assistant()                     # bundled corpus, embedded Chroma, offline defaults
    >>> answer = assistant.ask("Which papers here study state-space models?")
    >>> answer.text, answer.citations, answer.refused
    """

    def __init__(self, settings: Settings | None = None, *, embedder: Embedder | None = None) -> None:
        self.settings = settings or Settings()
        self.embedder = embedder or make_embedder(
            self.settings.embedding.backend, self.settings.embedding.batch_size, self.settings.embedding.threads
        )
        self.store = ChromaStore(self.settings)
        chroma = self.settings.chroma
        where = f"{chroma.host}-{chroma.port}-" if chroma.host else ""
        self.lexical = LexicalIndex(self.settings.home / "lexical" / f"{where}{chroma.collection}.sqlite")
        self.indexer = Indexer(self.settings, self.store, self.lexical, self.embedder)
        self.retriever = Retriever(self.settings, self.store, self.lexical, self.embedder)
        self.extractive = ExtractiveAnswerer(
            self.settings, self.embedder, self.store, self.lexical, self._prompt("refusal")
        )
        self._ready = False
        self._ready_lock = threading.Lock()
        self._llm = None  # the generative answerer, made on first use (no client exists unless asked for)

    # --- set-up ----------------------------------------------------------------------------------------

    def _prompt(self, name: str) -> str:
        path = self.settings.prompts / f"{name}.md"
        return path.read_text(encoding="utf-8").strip()

    def ensure_ready(self, progress: bool | None = None) -> None:
        """Bring the BM25 index in step with Chroma; index the default corpus if the store is empty."""
        if self._ready:
            return
        with self._ready_lock:
            if self._ready:
                return
            self.lexical.sync_with(self.store)
            corpus = self.settings.corpus
            if corpus.auto_index and self.store.count() == 0 and corpus.default.is_file():
                log.info("Indexing the default corpus %s (first use)", corpus.default)
                self.indexer.ingest([corpus.default], progress=progress)
            self._ready = True

    # --- corpus ----------------------------------------------------------------------------------------

    def ingest(
        self,
        paths: Iterable[str | Path],
        progress: bool | None = None,
        on_progress: ProgressCallback | None = None,
        limit: int | None = None,
    ) -> IngestReport:
        """Add corpus files (page text, JSON Lines, JSON, CSV; gzip or not). Idempotent and resumable."""
        with self._ready_lock:
            self.lexical.sync_with(self.store)
        self._ready = True
        return self.indexer.ingest(paths, progress=progress, on_progress=on_progress, limit=limit)

    def count(self) -> int:
        """Papers indexed."""
        return self.store.count()

    def papers(self, search: str = "", limit: int = 50, offset: int = 0) -> list[Paper]:
        """Indexed papers, in index order; with ``search``, the best BM25 matches of title and abstract."""
        self.ensure_ready()
        if search.strip():
            ids = [pid for pid, _ in self.lexical.search(search, offset + limit)][offset:]
            found = self.store.get_papers(ids)
            return [found[pid] for pid in ids if pid in found]
        out = []
        for i, (paper, _, _) in enumerate(self.store.iter_papers(page=max(limit, 100))):
            if i >= offset + limit:
                break
            if i >= offset:
                out.append(paper)
        return out

    def paper(self, paper_id: str) -> Paper | None:
        return self.store.get_papers([paper_id]).get(paper_id)

    def corpus_map(self, max_points: int = 1000):
        """The papers on a 2-D map from their vectors, with the corpus's categories and date range.

        Returns a `rag.corpus_map.CorpusMap` (a fixed sample of ``max_points`` papers for a bigger corpus;
        ``max_points=0``: the categories and dates alone, which is quick). Cached until the corpus changes.
        """
        from rag.corpus_map import corpus_map

        self.ensure_ready()
        return corpus_map(self.store, max_points=max_points)

    # --- questions -------------------------------------------------------------------------------------

    def _clean_question(self, question: Any) -> tuple[str, list[str]]:
        if not isinstance(question, str):
            raise InvalidQuestion("The question must be text.")
        limit = self.settings.retrieval.max_query_chars
        # Only a bounded head of a huge paste is cleaned: cleaning drops markup and spaces, so four times the
        # limit leaves enough text, and the time taken no longer grows with what was pasted.
        raw = question[: limit * 4]
        # Lone surrogates (undecodable bytes from a client) can't be encoded: shown as U+FFFD instead.
        text = clean_text(_LONE_SURROGATE.sub("\ufffd", raw))
        if not text:
            raise InvalidQuestion("Please type a question; this one is empty.")
        if not re.search(r"\w", text):
            raise InvalidQuestion("Please type a question in words; this one has nothing to search for.")
        notes = []
        if len(text) > limit or len(question) > len(raw):
            notes.append(f"Your question was {len(question):,} characters long; only the first {limit:,} were used.")
            text = text[:limit]
        return text, notes

    def retrieve(
        self,
        query: str,
        k: int = 10,
        filters: FiltersLike = None,
        mode: Mode | None = None,
        history: Sequence[dict] | None = None,
    ) -> list[Hit]:
        """The ``k`` papers that best match ``query``, each with its best chunks and a score.

        With ``history``, a follow-up query is resolved against the conversation first, as `ask` does.
        """
        text, _ = self._clean_question(query)
        text, _ = split_instructions(text)
        self.ensure_ready()
        search = self._resolve(text, history).search_query if history else text
        return self.retriever.retrieve(search, k=k, filters=_filters(filters), mode=mode)

    def _resolve(self, question: str, history: Sequence[dict] | None) -> ResolvedQuestion:
        resolved = resolve(question, history, max_turn_chars=self.settings.retrieval.max_query_chars)
        if resolved.is_followup and not resolved.prior_paper_ids and resolved.prior_answer:
            # A plain-text history carries no paper ids: the previous answer quotes its sources, so the
            # best BM25 match of that answer is the paper it was about.
            cleaned = re.sub(r"\[\d+(?:\s*,\s*\d+)*\]", " ", resolved.prior_answer)
            best = self.lexical.search(cleaned[: self.settings.retrieval.max_query_chars], 1)
            resolved.prior_paper_ids = [best[0][0]] if best else []
        return resolved

    @property
    def llm(self):
        """The generative answerer (`rag.generative.LLMAnswerer`) over the configured endpoint."""
        if self._llm is None:
            from rag.generative import LLMAnswerer

            self._llm = LLMAnswerer(self.settings, self.embedder, self.extractive.vectors, self._prompt("refusal"))
        return self._llm

    def answer_mode(self, mode: str | None = None) -> str:
        """"llm" or "extractive": what ``mode`` (default: the settings) comes to with this configuration."""
        mode = mode or self.settings.answer.mode
        if mode == "auto":
            return "llm" if self.settings.llm.configured else "extractive"
        if mode == "llm" and not self.settings.llm.configured:
            raise LLMError(
                "No LLM endpoint is configured: set RAG_LLM_BASE_URL (or OPENAI_BASE_URL) for a local server such as "
                "http://127.0.0.1:11434/v1, or OPENAI_API_KEY for OpenAI."
            )
        if mode not in ("llm", "extractive"):
            raise RagError(f"Unknown answer mode {mode!r}: use auto, extractive or llm.")
        return mode

    def _hits(self, resolved: ResolvedQuestion, k: int, filters: FiltersLike) -> list[Hit]:
        hits = self.retriever.retrieve(resolved.search_query, k=k, filters=_filters(filters))
        if resolved.prior_paper_ids and not any(h.paper_id in resolved.prior_paper_ids for h in hits):
            hits += self.retriever.retrieve(resolved.search_query, k=len(resolved.prior_paper_ids), filters=Filters(paper_ids=resolved.prior_paper_ids))
        return hits

    def stream(
        self,
        question: str,
        history: Sequence[dict] | None = None,
        *,
        k: int | None = None,
        filters: FiltersLike = None,
        mode: str | None = None,
    ) -> Iterator[str | Answer]:
        """Yield the answer's text in pieces as it is produced, then the full `Answer` last.

        ``mode``: "llm", "extractive" or "auto" (default: the settings). An LLM that times out, is
        rate-limited or fails after its retries is replaced by the extractive answerer, and the answer
        says so (``mode="fallback"``); a refused key raises `LLMError`.
        """
        text, notes = self._clean_question(question)
        text, instructions = split_instructions(text)
        if instructions:
            notes.append("Instructions inside the question were not followed; only its question was answered.")
        answer_mode = self.answer_mode(mode)
        self.ensure_ready()
        resolved = self._resolve(text, history)
        k = k or self.settings.retrieval.k
        unavailable = ""
        if answer_mode == "llm":
            standalone = ""
            try:
                if resolved.is_followup:
                    standalone = self.llm.condense(text, history)
                    if standalone:
                        resolved.search_query = standalone
                for piece in self.llm.stream(resolved, self._hits(resolved, k, filters), standalone):
                    if isinstance(piece, Answer):
                        piece.notes = notes + piece.notes
                    yield piece
                return
            except LLMUnavailable as exc:
                log.warning("%s Answering extractively.", exc)
                unavailable = f"{exc} This answer is quoted from the abstracts instead."
        for piece in self.extractive.stream(resolved, self._hits(resolved, max(k, 10), filters)):
            if isinstance(piece, Answer):
                piece.notes = notes + piece.notes
                if unavailable:
                    piece.mode = "fallback"
                    piece.notes.append(unavailable)
            yield piece

    def ask(
        self,
        question: str,
        history: Sequence[dict] | None = None,
        *,
        k: int | None = None,
        filters: FiltersLike = None,
        mode: str | None = None,
    ) -> Answer:
        """Answer ``question`` (with earlier turns in ``history``), citing the abstracts it comes from."""
        answer = None
        for piece in self.stream(question, history, k=k, filters=filters, mode=mode):
            if isinstance(piece, Answer):
                answer = piece
        assert answer is not None
        return answer

    def as_retriever(self, k: int = 5):
        """This assistant's hybrid retrieval as a LlamaIndex `BaseRetriever`."""
        from rag.llamaindex import AssistantRetriever

        return AssistantRetriever(self, k=k)

    def close(self) -> None:
        self.lexical.close()
