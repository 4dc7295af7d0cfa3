"""`rag mcp`: the assistant as a Model Context Protocol server, on the official SDK (`mcp`).

    rag mcp                         over stdio: an MCP client (a desktop app, an editor) starts it
    rag mcp --http [--port 8001]    Streamable HTTP at http://127.0.0.1:8001/mcp

Three tools, each answering only from the indexed abstracts:

- ``ask(question, history?, k?, filters?)``: the cited answer, its citations (number, paper_id, title,
  url, the cited sentences, supported), whether it refused, and notes.
- ``search_papers(query, k?, filters?)``: the best-matching papers with scores and their best sentences.
- ``get_paper(paper_id)``: a paper's title, abstract, authors, date, categories and link.

A bad argument (an empty question, k out of range, a malformed date, an unknown paper id) is a tool error
whose text says what to fix; the SDK checks the argument types against each tool's schema first.
Over HTTP the access rule is `rag serve`'s: loopback only unless RAG_SERVE_API_KEY is set, and then
every request carries ``Authorization: Bearer <key>``; on loopback the SDK also refuses requests whose
Host or Origin is not a loopback name (DNS rebinding).
"""

from __future__ import annotations

import inspect
import logging
from typing import Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field

from rag.errors import RagError
from rag.serve.service import NotReady, Service, answer_data, citation_data, hit_data, paper_data

log = logging.getLogger(__name__)

__all__ = ["build_server", "serve_mcp"]

READY_WAIT = 300.0  # seconds a tool call waits for the index to open (the first start indexes the default corpus)

INSTRUCTIONS = (
    "Answers questions about the scientific paper abstracts indexed in this assistant, and only from them. "
    "Use `ask` for a cited answer (it says plainly when the abstracts don't answer), `search_papers` to find "
    "papers on a topic, and `get_paper` for one paper's abstract and link."
)


class Turn(BaseModel):
    """An earlier turn of the conversation."""

    role: Literal["user", "assistant"]
    content: str
    paper_ids: list[str] = Field(default_factory=list, description="For an assistant turn: the paper ids its answer cited.")


class PaperFilters(BaseModel):
    """Only papers that match all of these (each applies where the corpus has the field)."""

    model_config = ConfigDict(extra="forbid")
    date_from: str | None = Field(None, description="Dated on or after: 2024, 2024-05 or 2024-05-17.")
    date_to: str | None = Field(None, description="Dated on or before: 2024, 2024-05 or 2024-05-17.")
    categories: list[str] = Field(default_factory=list, description="In any of these categories, e.g. cs.LG.")
    paper_ids: list[str] = Field(default_factory=list, description="Only these papers.")


class CitedPaper(BaseModel):
    number: int = Field(description="The [n] marker in the answer that cites this paper.")
    paper_id: str
    title: str
    url: str
    text: str = Field(description="The sentences of the abstract the answer cites.")
    supported: bool = Field(description="False when a claim citing this paper was not backed by its text.")


class AskResult(BaseModel):
    answer: str = Field(description="The answer, with [n] citation markers; the refusal sentence when refused.")
    citations: list[CitedPaper]
    refused: bool = Field(description="True when the indexed abstracts don't answer the question.")
    notes: list[str] = Field(description="What the reader should know: a cut question, ignored instructions, a fallback.")
    unsupported: list[str] = Field(description="Sentences of the answer whose citation check failed.")


class FoundPaper(BaseModel):
    paper_id: str
    title: str
    score: float = Field(description="Retrieval score, higher is better (fused dense and BM25).")
    url: str
    date: str
    sentences: list[str] = Field(description="The abstract's sentences that best match the query.")


class SearchResult(BaseModel):
    papers: list[FoundPaper]


class PaperRecord(BaseModel):
    paper_id: str
    title: str
    abstract: str
    authors: list[str]
    date: str
    categories: list[str]
    url: str


def _filters(filters: PaperFilters | None) -> dict | None:
    # Only the fields given: the Assistant checks their values and names a bad one.
    return filters.model_dump(exclude_defaults=True) or None if filters else None


# All three only read the index, give the same result for the same index, and reach nothing outside it.
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)


def build_server(service: Service) -> MCPServer:
    """The MCP server over ``service``: three tools, each run in one of the service's answer slots."""
    server = MCPServer(name="rag-abstracts", title="Abstracts assistant", instructions=INSTRUCTIONS, log_level="WARNING")

    def tool(function):
        # The docstring is the description a client's model reads: without the code's indentation.
        return server.tool(description=inspect.cleandoc(function.__doc__), annotations=READ_ONLY)(function)

    async def call(function, *args: Any, **kwargs: Any):
        try:
            await service.wait_ready(READY_WAIT)
            return await service.run(function, *args, **kwargs)
        except NotReady as exc:
            raise ToolError(str(exc)) from None
        except RagError as exc:  # bad input, a store or LLM failure: the message says what to do
            raise ToolError(str(exc)) from None

    @tool
    async def ask(question: str, history: list[Turn] | None = None, k: int | None = None,
                  filters: PaperFilters | None = None) -> AskResult:
        """Answer a question from the indexed paper abstracts only, citing them claim by claim.

        Returns the answer text with [n] markers, the citations (paper id, title, link and the cited
        sentences of each), `refused` (true, with the text "The indexed abstracts don't answer this.",
        when they don't hold the answer), notes and any claim whose citation check failed. For a
        follow-up, pass the earlier turns as `history`. `k` is the number of papers to consider (1-100).
        """
        turns = [t.model_dump() for t in history or []]
        answer = await call(service.assistant.ask, question, turns, k=k, filters=_filters(filters))
        return AskResult(answer=answer.text, citations=[CitedPaper(**citation_data(c)) for c in answer.citations],
                         **{key: value for key, value in answer_data(answer).items() if key in ("refused", "notes", "unsupported")})

    @tool
    async def search_papers(query: str, k: int = 10, filters: PaperFilters | None = None) -> SearchResult:
        """Find the indexed papers that best match a query (hybrid dense + BM25 search over the abstracts).

        Returns up to `k` papers (1-100), best first, each with its id, title, score, link, date and the
        abstract sentences that match best. Only indexed papers are searched; use `get_paper` for a whole abstract.
        """
        hits = await call(service.assistant.retrieve, query, k=k, filters=_filters(filters))
        return SearchResult(papers=[FoundPaper(**hit_data(h)) for h in hits])

    @tool
    async def get_paper(paper_id: str) -> PaperRecord:
        """Look up one indexed paper by its id (as `ask` and `search_papers` give it).

        Returns its title, the whole abstract, authors, date, categories and link, as indexed. Errors when no
        indexed paper has that id.
        """
        if not paper_id.strip() or len(paper_id) > 200:
            raise ToolError("paper_id must be a paper id as search_papers returns it, e.g. '2401.12345'.")
        paper = await call(service.assistant.paper, paper_id.strip())
        if paper is None:
            raise ToolError(f"No indexed paper has the id {paper_id[:100]!r}; search_papers finds papers and their ids.")
        return PaperRecord(**paper_data(paper))

    return server


def serve_mcp(http: bool = False, host: str | None = None, port: int | None = None) -> None:
    """`rag mcp`: over stdio (the default) or Streamable HTTP, until the client leaves or Ctrl-C."""
    from rag.assistant import Assistant
    from rag.serve.access import check_exposure
    from rag.settings import Settings

    settings = Settings()
    host = host or settings.serve.host
    port = settings.serve.mcp_port if port is None else port
    if http:
        check_exposure(host, settings.serve.api_key, "rag mcp --http")
    assistant = Assistant(settings)
    service = Service(assistant, settings.serve.concurrency)
    service.start()
    server = build_server(service)
    try:
        if not http:
            # stdout is the protocol: the SDK points fd 1 at stderr while it serves, so stray prints can't break it.
            server.run("stdio")
            return
        from rag.serve.mcp_http import serve_http

        serve_http(server, settings.serve, host, port)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a user stops a server started by hand
    finally:
        assistant.close()
