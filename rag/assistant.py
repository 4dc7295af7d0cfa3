"""`Assistant`: the one public API. The CLI, the Gradio UI, the servers and the evaluation all go through it.

It wires the layers below (index, ingest, retrieve, answer) and walks a question through them once:
cleaned, its instructions set aside, resolved against the conversation, embedded, its papers retrieved,
answered (`rag.answer.base.Question`); the steps up to the answer are in `rag.answer.asking`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from rag.answer.asking import EXTRACTIVE_MIN_HITS, Asking, FiltersLike, check_filters, check_k
from rag.answer.base import AnswerPieces, AnswerStream, Question
from rag.answer.conversation import ResolvedQuestion
from rag.answer.extractive import ExtractiveAnswerer
from rag.answer.prompts import load
from rag.corpus import ReadLimits
from rag.errors import InvalidQuestion, LLMError, LLMUnavailable
from rag.feedback.api import FeedbackMixin
from rag.index.chroma import ChromaStore
from rag.index.embedding import Embedder, make_embedder
from rag.index.lexical import LexicalIndex
from rag.index.sentence_vectors import SentenceVectors
from rag.ingest.indexer import Indexer, ProgressCallback
from rag.retrieve.retriever import Retriever, RetrieverName
from rag.settings import Settings
from rag.types import Answer, Filters, Hit, IngestReport, Paper

log = logging.getLogger(__name__)

class Assistant(FeedbackMixin):  # feedback(), answers, feedback_store: rag/feedback/api.py
    """Question answering over the indexed abstracts.

    >>> assistant = Assistant()                     # bundled corpus, embedded Chroma, offline defaults
    >>> answer = assistant.ask("Which papers here study state-space models?")
    >>> answer.text, answer.citations, answer.refused
    """

    def __init__(self, settings: Settings | None = None, *, embedder: Embedder | None = None) -> None:
        self.settings = settings or Settings()
        e = self.settings.embedding
        self.embedder = embedder or make_embedder(e.backend, e.batch_size, e.threads)
        self.store = ChromaStore(self.settings)
        self.store.check_embedder(self.embedder.name)
        chroma = self.settings.chroma
        where = f"{chroma.host}-{chroma.port}-" if chroma.host else ""
        self.lexical = LexicalIndex(self.settings.home / "lexical" / f"{where}{chroma.collection}.sqlite")
        self.sentence_vectors = SentenceVectors(self.embedder, self.store)
        self.indexer = Indexer(self.settings, self.store, self.lexical, self.embedder)
        self.retriever = Retriever(self.settings, self.store, self.lexical, self.embedder)
        self.refusal = load(self.settings.prompts, "refusal")
        self.asking = Asking(self.settings, self.embedder, self.lexical, self.retriever, self.refusal)
        self.extractive = ExtractiveAnswerer(self.settings, self.sentence_vectors, self.lexical, self.refusal)
        self._ready = False
        self._ready_lock = threading.Lock()
        self._llm = None  # the generative answerer, made on first use (no client exists unless asked for)

    # --- set-up ----------------------------------------------------------------------------------------

    def ensure_ready(self, progress: bool | None = None) -> None:
        """Bring the BM25 index in step with Chroma; index the default corpus if the store is empty. Once ready,
        it is checked again now and then for papers another process added (`LexicalIndex.recheck`)."""
        if self._ready:
            self.lexical.recheck(self.store)
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
        limits: ReadLimits | None = None,
    ) -> IngestReport:
        """Add corpus files (page text, JSON Lines, JSON, CSV; gzip or not). Idempotent and resumable.

        ``limit``: stop quietly after that many records. ``limits``: refuse a file with more unpacked bytes
        or records (`rag.errors.CorpusTooLarge`; the web chat's uploads).
        """
        with self._ready_lock:
            self.lexical.sync_with(self.store)
        self._ready = True
        return self.indexer.ingest(paths, progress=progress, on_progress=on_progress, limit=limit, limits=limits)

    def sync(self, feeds: Sequence[str] | None = None, date_from: str | None = None, date_to: str | None = None, **options):
        """Fetch the live feeds' papers ("hf-daily", "arxiv:cs.LG") day by day and index them: a `rag.feeds.SyncReport`.
        Without dates, each feed from where it last stopped up to today (`rag.feeds.sync`). ``options``:
        ``refresh`` (fetch days already done), ``stop`` (an Event), ``on_day`` (a progress callback)."""
        from rag.feeds.sync import Syncer

        with self._ready_lock:
            self.lexical.sync_with(self.store)
        self._ready = True
        return Syncer(self.settings, self.indexer, self.store).run(feeds, date_from, date_to, **options)

    def sync_status(self):
        """When the feeds last synced and what the recent runs added (`rag.feeds.SyncStatus`)."""
        from rag.feeds.state import SyncState

        return SyncState(self.settings).status()

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

        Returns a `rag.index.corpus_map.CorpusMap` (a fixed sample of ``max_points`` papers for a bigger
        corpus). Cached until the corpus changes.
        """
        from rag.index.corpus_map import corpus_map

        self.ensure_ready()
        return corpus_map(self.store, max_points=max(1, max_points))

    def corpus_facets(self):
        """The corpus's categories (with counts) and date range, without the map: one pass over the metadata."""
        from rag.index.corpus_map import corpus_map

        self.ensure_ready()
        return corpus_map(self.store, max_points=0)

    # --- questions -------------------------------------------------------------------------------------

    def retrieve(
        self,
        query: str,
        k: int = 10,
        filters: FiltersLike = None,
        retriever: RetrieverName | None = None,
        history: Sequence[dict] | None = None,
    ) -> list[Hit]:
        """The ``k`` papers that best match ``query``, each with its best chunks and a score.

        ``retriever``: "hybrid", "dense" or "bm25" (default: the settings). With ``history``, a follow-up
        query is resolved against the conversation first, as `ask` does.
        """
        text, _ = self.asking.clean(query)
        k = check_k(k, 10)
        wanted = check_filters(filters)
        if retriever not in (None, "hybrid", "dense", "bm25"):
            raise InvalidQuestion(f"Unknown retriever {str(retriever)[:40]!r}: use hybrid, dense or bm25.")
        self.ensure_ready()
        search = self.asking.resolve(text, history).search_query if history else text
        return self.retriever.retrieve(search, k=k, filters=wanted, retriever=retriever)

    @property
    def llm(self):
        """The generative answerer (`rag.answer.generative.LLMAnswerer`) over the configured endpoint."""
        if self._llm is None:
            from rag.answer.generative import LLMAnswerer

            self._llm = LLMAnswerer(self.settings, self.embedder, self.sentence_vectors, self.refusal)
        return self._llm

    def resolve_answer_mode(self, answer_mode: str | None = None) -> str:
        """"llm" or "extractive": what ``answer_mode`` (default: the settings) comes to with this configuration."""
        mode = answer_mode or self.settings.answer.mode
        if mode == "auto":
            return "llm" if self.settings.llm.configured else "extractive"
        if mode == "llm" and not self.settings.llm.configured:
            raise LLMError(
                "No LLM endpoint is configured: set RAG_LLM_BASE_URL (or OPENAI_BASE_URL) for a local server such as "
                "http://127.0.0.1:11434/v1, or OPENAI_API_KEY for OpenAI."
            )
        if mode not in ("llm", "extractive"):
            raise InvalidQuestion(f"Unknown answer mode {str(mode)[:40]!r}: use auto, extractive or llm.")
        return mode

    def stream(
        self,
        question: str,
        history: Sequence[dict] | None = None,
        *,
        k: int | None = None,
        filters: FiltersLike = None,
        answer_mode: str | None = None,
    ) -> AnswerStream:
        """The answer's text in pieces as it is produced (iterate), and the whole `Answer` (``.answer``).

        ``answer_mode``: "llm", "extractive" or "auto" (default: the settings). An LLM that times out, is
        rate-limited or fails after its retries is replaced by the extractive answerer, and the answer
        says so (``mode="fallback"``); a refused key raises `LLMError`. Bad input raises here, before
        anything is streamed.
        """
        text, notes = self.asking.clean(question)
        k = check_k(k, self.settings.retrieval.k)
        mode = self.resolve_answer_mode(answer_mode)
        wanted = check_filters(filters)
        self.ensure_ready()
        resolved = self.asking.resolve(text, history)
        return AnswerStream(self.answers.track(self._answer(text, notes, resolved, history, mode, k, wanted), question, history))

    def _answer(
        self, text: str, notes: list[str], resolved: ResolvedQuestion, history: Sequence[dict] | None,
        mode: str, k: int, filters: Filters | None,
    ) -> AnswerPieces:
        unavailable = ""
        if mode == "llm" and resolved.is_followup:
            try:
                resolved.standalone = self.llm.condense(text, history)
                resolved.search_query = resolved.standalone or resolved.search_query
            except LLMUnavailable as exc:
                unavailable = str(exc)
        pool = max(k, EXTRACTIVE_MIN_HITS)
        vector, search_vector, hits = self.asking.search(text, resolved, pool, filters)
        question = Question(text=text, resolved=resolved, vector=vector, notes=list(notes))
        if mode == "llm" and not unavailable:
            question.hits = self.asking.top(hits, k, resolved, search_vector)
            try:
                return (yield from self.llm.answer(question))
            except LLMUnavailable as exc:
                unavailable = str(exc)
        if unavailable:
            log.warning("%s Answering extractively.", unavailable)
            question.notes.append(f"{unavailable} This answer is quoted from the abstracts instead.")
            question.fallback = True
        question.hits = self.asking.top(hits, pool, resolved, search_vector)
        return (yield from self.extractive.answer(question))

    def question(
        self, question: str, history: Sequence[dict] | None = None, *, k: int | None = None, filters: FiltersLike = None
    ) -> Question:
        """The question as the extractive answerer gets it: cleaned, resolved against ``history``, embedded,
        its papers retrieved (at least `EXTRACTIVE_MIN_HITS`). `ask` does the same on its way; this is for
        looking inside (training the answerer, evaluation)."""
        text, notes = self.asking.clean(question)
        k = max(check_k(k, self.settings.retrieval.k), EXTRACTIVE_MIN_HITS)
        wanted = check_filters(filters)
        self.ensure_ready()
        resolved = self.asking.resolve(text, history)
        vector, search_vector, hits = self.asking.search(text, resolved, k, wanted)
        return Question(text=text, resolved=resolved, vector=vector, hits=self.asking.top(hits, k, resolved, search_vector), notes=notes)

    def ask(
        self,
        question: str,
        history: Sequence[dict] | None = None,
        *,
        k: int | None = None,
        filters: FiltersLike = None,
        answer_mode: str | None = None,
    ) -> Answer:
        """Answer ``question`` (with earlier turns in ``history``), citing the abstracts it comes from."""
        return self.stream(question, history, k=k, filters=filters, answer_mode=answer_mode).answer

    # --- LlamaIndex ------------------------------------------------------------------------------------

    def as_retriever(self, k: int = 5):
        """This assistant's hybrid retrieval as a LlamaIndex `BaseRetriever`."""
        from rag.adapters.llamaindex import HitsRetriever

        return HitsRetriever(self.retrieve, k=k)

    def as_llamaindex_embedding(self):
        """This assistant's embedder as a LlamaIndex `BaseEmbedding`."""
        from rag.adapters.llamaindex import LlamaIndexEmbedding

        return LlamaIndexEmbedding.wrap(self.embedder, self.settings.embedding.batch_size)

    def close(self) -> None:
        self.lexical.close()
        self.close_feedback()
