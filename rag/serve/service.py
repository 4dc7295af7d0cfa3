"""What both servers share: one `Assistant`, its readiness, a bound on answers at once, answers as data.

`Service` is made once per process and used by every request, from the event loop of the server that
owns it (uvicorn's for `rag serve`, the MCP SDK's for `rag mcp`). The `Assistant` is thread-safe (the
web chat already answers from several threads), so answers run in worker threads; `slots` bounds how
many run at once, like the chat's ``answer_concurrency``: on a 2-core machine a third answer only slows
the other two, so further requests wait their turn (without holding a thread) instead of failing.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from rag.answer.base import AnswerStream
from rag.assistant import Assistant
from rag.errors import RagError
from rag.types import Answer, Citation, Hit, Paper

log = logging.getLogger(__name__)

T = TypeVar("T")

__all__ = ["NotReady", "Service", "answer_data", "citation_data", "hit_data", "paper_data", "sources_text"]


class NotReady(RagError):
    """The index is still being opened, could not be opened, or holds no papers (HTTP 503)."""


class Service:
    """One `Assistant` for every request of a server process: ready once, at most ``concurrency`` answers at once."""

    def __init__(self, assistant: Assistant, concurrency: int = 2) -> None:
        self.assistant = assistant
        self.concurrency = concurrency
        self._slots: anyio.Semaphore | None = None  # made in the server's event loop, on first use
        self._done = threading.Event()
        self._problem = ""  # why the index can't be used, once known
        self._has_papers = False

    # --- readiness -------------------------------------------------------------------------------------

    def prepare(self, announce: Callable[[str], None] | None = None) -> None:
        """Open the index (indexing the default corpus on first use, as `rag ui` does). Never raises: a
        failure is kept, every request is told it, and ``announce`` gets a line saying how it went."""
        started = time.perf_counter()
        try:
            self.assistant.ensure_ready(progress=False)
            papers = self.assistant.count()
            self._has_papers = papers > 0
            line = f"{papers:,} papers indexed ({time.perf_counter() - started:.1f} s): answering."
            if not papers:
                line = "No papers are indexed: requests get 503 until some are (`rag ingest PATH`)."
        except RagError as exc:
            self._problem = line = f"The index can't be used: {exc}"
        except Exception as exc:  # a bug or a broken store: the server stays up and says so
            log.exception("opening the index failed")
            self._problem = line = f"The index can't be used ({type(exc).__name__}); the details are in the server's log."
        finally:
            self._done.set()
        log.info("%s", line)
        if announce is not None:
            announce(line)

    def start(self, announce: Callable[[str], None] | None = None) -> threading.Thread:
        """`prepare` in the background: the server answers at once (503 until the index is ready)."""
        thread = threading.Thread(target=self.prepare, args=(announce,), name="open-index", daemon=True)
        thread.start()
        return thread

    @property
    def ready(self) -> bool:
        return self._done.is_set() and not self._problem

    def status(self) -> str:
        """"ready", "starting", "empty" or "failed"."""
        if not self._done.is_set():
            return "starting"
        if self._problem:
            return "failed"
        return "ready" if self._papers_now() else "empty"

    def _papers_now(self) -> bool:
        # An empty index may be filled by another process through a Chroma server: look again while empty.
        if not self._has_papers:
            try:
                self._has_papers = self.assistant.count() > 0
            except RagError:
                return False
        return self._has_papers

    def check_ready(self) -> None:
        """Raise `NotReady`, saying what to do, unless the index is open and holds papers."""
        if not self._done.is_set():
            raise NotReady("The index is still being opened (the first start also indexes the default corpus); try again in a few seconds.")
        if self._problem:
            raise NotReady(self._problem)
        if not self._papers_now():
            raise NotReady("No papers are indexed yet: add some with `rag ingest PATH` (or set RAG_HOME to a folder that has an index).")

    async def wait_ready(self, timeout: float) -> None:
        """Wait (without holding a thread) until the index is ready, then `check_ready`."""
        with anyio.move_on_after(timeout):
            while not self._done.is_set():
                await anyio.sleep(0.1)
        self.check_ready()

    # --- answering -------------------------------------------------------------------------------------

    @property
    def slots(self) -> anyio.Semaphore:
        if self._slots is None:
            self._slots = anyio.Semaphore(self.concurrency)
        return self._slots

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``function(*args, **kwargs)`` in a worker thread, in one of the answer slots."""
        async with self.slots:
            return await anyio.to_thread.run_sync(functools.partial(function, *args, **kwargs))

    async def open_stream(self, question: str, history: list[dict], **options: Any) -> AnswerStream:
        """`Assistant.stream`: raises bad input here, before any response is started. The answer itself is
        computed as the stream is read (`pieces`), in a slot."""
        return await anyio.to_thread.run_sync(functools.partial(self.assistant.stream, question, history, **options))

    async def pieces(self, stream: AnswerStream) -> AsyncIterator[str]:
        """The stream's text pieces, each produced in a worker thread, all within one slot. When the reader
        stops early (a client that hung up), the answer's generator is closed."""
        end = object()
        async with self.slots:
            iterator = iter(stream)
            try:
                while (piece := await anyio.to_thread.run_sync(next, iterator, end)) is not end:
                    yield piece
            finally:
                # Thread calls are not cancelled half-way, so the generator is not running here; closing it
                # (an LLM's open response with it) is shielded from the cancellation that brought us here.
                close = getattr(iterator, "close", None)
                if close is not None:
                    with anyio.CancelScope(shield=True):
                        await anyio.to_thread.run_sync(close)


# --- answers as data ------------------------------------------------------------------------------------


def citation_data(citation: Citation) -> dict:
    """A citation as the servers send it: which paper, and the sentences it was cited for."""
    return {
        "number": citation.number,
        "paper_id": citation.paper_id,
        "title": citation.title,
        "url": citation.url,
        "text": citation.text,
        "supported": citation.supported,
    }


def answer_data(answer: Answer) -> dict:
    """What a client needs of an answer besides its text: whether it refused, notes, unchecked claims."""
    return {
        "refused": answer.refused,
        "mode": answer.mode,
        "notes": list(answer.notes),
        "unsupported": list(answer.unsupported),
    }


def sources_text(answer: Answer) -> str:
    """The numbered sources and the notes as text, for a chat client that shows only an answer's text."""
    lines = []
    if answer.citations:
        lines.append("Sources:")
        for c in answer.citations:
            flag = " (not supported by its text)" if not c.supported else ""
            lines.append(f"[{c.number}] {c.title}{' ' + c.url if c.url else ''}{flag}")
    lines += [f"Note: {note}" for note in answer.notes]
    return "\n\n" + "\n".join(lines) if lines else ""


def hit_data(hit: Hit) -> dict:
    return {
        "paper_id": hit.paper_id,
        "title": hit.title,
        "score": round(hit.score, 4),
        "url": hit.url,
        "date": hit.date,
        "sentences": [chunk.text for chunk in hit.chunks],
    }


def paper_data(paper: Paper) -> dict:
    return {
        "paper_id": paper.paper_id,
        "title": paper.title,
        "abstract": paper.abstract,
        "authors": list(paper.authors),
        "date": paper.date,
        "categories": list(paper.categories),
        "url": paper.url,
    }
