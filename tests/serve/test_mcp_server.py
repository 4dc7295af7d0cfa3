"""`rag mcp`: the MCP server, driven by the `mcp` SDK's own client.

Over stdio the client starts the real `rag mcp` command, as a desktop app or an editor does; over
Streamable HTTP it talks to the app `rag mcp --http` serves, on 127.0.0.1 and a free port. The index is
the bundled corpus with the hashing embedder.
"""

from __future__ import annotations

import sys

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from rag import Assistant, Settings
from rag.serve.mcp_http import http_app
from rag.serve.mcp_server import build_server
from rag.serve.run import ServerThread
from rag.serve.service import Service
from tests.fixtures.processes import cli_env
from tests.serve.conftest import DICTIONARY_PAPER, DICTIONARY_QUESTION, FOLLOW_UP, REFUSAL, UNANSWERABLE

KEY = "mcp-test-key-91c2"


def stdio(home) -> StdioServerParameters:
    """`rag mcp` over ``home`` as an MCP client launches it (python -m rag.cli: this checkout's code)."""
    return StdioServerParameters(command=sys.executable, args=["-m", "rag.cli", "mcp"], env=cli_env(home))


def run(scenario) -> None:
    anyio.run(scenario)


def test_over_stdio_the_tools_are_listed_and_each_answers(bundled_home):
    async def scenario():
        async with Client(stdio(bundled_home), read_timeout_seconds=120) as client:
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            assert sorted(tools) == ["ask", "get_paper", "search_papers"]
            for tool in tools.values():  # each says what it returns and where its answers come from
                assert "indexed" in tool.description and "Returns" in tool.description and "\n    " not in tool.description
                assert tool.annotations.read_only_hint and not tool.annotations.destructive_hint
            assert "only" in tools["ask"].description and "refused" in tools["ask"].description
            assert tools["ask"].input_schema["required"] == ["question"]
            assert tools["search_papers"].input_schema["required"] == ["query"]

            asked = await client.call_tool("ask", {"question": DICTIONARY_QUESTION})
            assert not asked.is_error
            answer = asked.structured_content
            assert answer["refused"] is False and "O(ln t/t^(1/4))" in answer["answer"] and "[1]" in answer["answer"]
            [citation] = answer["citations"]
            assert citation["number"] == 1 and citation["title"] == DICTIONARY_PAPER and "convergence rate" in citation["text"]

            found = await client.call_tool("search_papers", {"query": "diagonal state space models", "k": 3})
            papers = found.structured_content["papers"]
            assert len(papers) == 3 and all("state space" in p["title"].lower() or "state-space" in p["title"].lower() for p in papers)
            assert papers[0]["score"] >= papers[-1]["score"] and papers[0]["sentences"]

            paper = (await client.call_tool("get_paper", {"paper_id": citation["paper_id"]})).structured_content
            assert paper["title"] == DICTIONARY_PAPER and citation["text"].split(";")[0] in paper["abstract"]
            assert set(paper) == {"paper_id", "title", "abstract", "authors", "date", "categories", "url"}

    run(scenario)


def test_over_stdio_a_bad_argument_is_a_tool_error_saying_what_to_fix(bundled_home):
    async def scenario():
        async with Client(stdio(bundled_home), read_timeout_seconds=120) as client:
            for tool, arguments, says in [
                ("ask", {"question": "   "}, "Please type a question"),
                ("search_papers", {"query": "models", "k": 0}, "k (the number of papers to consider) must be a whole number"),
                ("search_papers", {"query": "models", "filters": {"date_from": "2024-13"}}, "'date_from' is not valid"),
                ("search_papers", {"query": "models", "k": "many"}, "k"),  # the SDK checks types against the schema
                ("search_papers", {"query": "models", "filters": {"colour": "red"}}, "colour"),
                ("get_paper", {"paper_id": "no-such-paper"}, "search_papers finds papers"),
                ("ask", {}, "question"),
            ]:
                result = await client.call_tool(tool, arguments)
                assert result.is_error, (tool, arguments)
                assert says in result.content[0].text, result.content[0].text
            # The server is still there after them.
            assert not (await client.call_tool("ask", {"question": DICTIONARY_QUESTION})).is_error

    run(scenario)


@pytest.fixture(scope="module")
def service(bundled_home):
    assistant = Assistant(Settings.test_profile(bundled_home, serve={"api_key": KEY}))
    service = Service(assistant)
    service.prepare()
    yield service
    assistant.close()


def test_ask_follows_the_conversation_and_refuses_plainly(service):
    async def scenario():
        async with Client(build_server(service)) as client:
            first = (await client.call_tool("ask", {"question": DICTIONARY_QUESTION})).structured_content
            history = [{"role": "user", "content": DICTIONARY_QUESTION},
                       {"role": "assistant", "content": first["answer"],
                        "paper_ids": [c["paper_id"] for c in first["citations"]]}]
            follow = (await client.call_tool("ask", {"question": FOLLOW_UP, "history": history})).structured_content
            assert [c["title"] for c in follow["citations"]] == [DICTIONARY_PAPER] and "sensor readings" in follow["answer"]
            refused = (await client.call_tool("ask", {"question": UNANSWERABLE})).structured_content
            assert refused == {"answer": REFUSAL, "citations": [], "refused": True, "notes": [], "unsupported": []}
            # Calls at once are all answered (the service runs at most two answers at a time).
            results = {}

            async def one(i: int, question: str) -> None:
                results[i] = (await client.call_tool("ask", {"question": question})).structured_content["refused"]

            async with anyio.create_task_group() as group:
                for i, question in enumerate([DICTIONARY_QUESTION, UNANSWERABLE] * 3):
                    group.start_soon(one, i, question)
            assert [results[i] for i in range(6)] == [False, True] * 3

    run(scenario)


def test_over_http_the_key_is_required(service):
    app = http_app(build_server(service), service.assistant.settings.serve, "127.0.0.1")

    async def scenario(url: str):
        headers = {"Authorization": f"Bearer {KEY}"}
        async with httpx2.AsyncClient(headers=headers) as http:
            async with Client(streamable_http_client(url, http_client=http)) as client:
                answer = (await client.call_tool("ask", {"question": DICTIONARY_QUESTION})).structured_content
                assert answer["citations"][0]["title"] == DICTIONARY_PAPER
        for wrong in ({}, {"Authorization": "Bearer not-the-key"}):
            async with httpx2.AsyncClient(headers=wrong) as http:
                response = await http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                                           headers={"Accept": "application/json, text/event-stream"})
                assert response.status_code == 401 and KEY not in response.text
                assert "Authorization: Bearer" in response.json()["error"]["message"] or "not valid" in response.text

    with ServerThread(app) as server:
        anyio.run(scenario, f"{server.url}/mcp")
