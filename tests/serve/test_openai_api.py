"""`rag serve`: the OpenAI-compatible endpoint, driven by the real `openai` client on 127.0.0.1.

The server runs in this process (`rag.serve.run.ServerThread`, a free port) over the bundled corpus indexed
with the hashing embedder; one test starts the real `rag serve` command. What is checked: the model list,
plain and streamed answers with their citations (the same answer `Assistant.ask` gives), follow-ups,
refusals, our options, errors in OpenAI's shape with their status, the key, readiness and the bound on
answers computed at once.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

from rag import Assistant, Settings
from rag.errors import RagError
from rag.serve.access import check_exposure
from rag.serve.openai_api import build_app
from rag.serve.run import ServerThread
from rag.serve.service import Service
from tests.fixtures.processes import cli_env, rag_command, stop_process
from tests.fixtures.servers import FakeOpenAI, Reply
from tests.serve.conftest import DICTIONARY_PAPER, DICTIONARY_QUESTION, FOLLOW_UP, REFUSAL, UNANSWERABLE

KEY = "sk-serve-test-3b7f"
S5_QUESTION = "What average accuracy does the S5-PTD model reach on the Long-Range Arena benchmark?"
S5_PAPER = "Robustifying State-space Models for Long Sequences via Approximate Diagonalization"


class Endpoint:
    """A running endpoint over an assistant: its URL, its `Service` and a client for it."""

    def __init__(self, assistant: Assistant, prepare: bool = True, concurrency: int = 2) -> None:
        self.assistant = assistant
        self.service = Service(assistant, concurrency)
        if prepare:
            self.service.prepare()
        self.server = ServerThread(build_app(self.service, assistant.settings.serve)).start()
        self.url = self.server.url

    def client(self, key: str | None = KEY, **kwargs) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=key or "none", max_retries=0, **kwargs)

    def stop(self) -> None:
        self.server.stop()
        self.assistant.close()


@pytest.fixture(scope="module")
def endpoint(bundled_home):
    running = Endpoint(Assistant(Settings.test_profile(bundled_home, serve={"api_key": KEY})))
    yield running
    running.stop()


@pytest.fixture
def client(endpoint) -> openai.OpenAI:
    return endpoint.client()


def ask(client: openai.OpenAI, content: str, history: list[dict] = (), **kwargs):
    return client.chat.completions.create(model="rag-abstracts", messages=[*history, {"role": "user", "content": content}], **kwargs)


def streamed(client: openai.OpenAI, content: str, history: list[dict] = (), **kwargs) -> tuple[str, list]:
    """The streamed text and every chunk."""
    chunks = list(ask(client, content, history, stream=True, **kwargs))
    return "".join(c.choices[0].delta.content or "" for c in chunks), chunks


def test_the_assistant_is_listed_as_a_model(client):
    models = client.models.list()
    assert [m.id for m in models.data] == ["rag-abstracts"]
    assert client.models.retrieve("rag-abstracts").id == "rag-abstracts"
    with pytest.raises(openai.NotFoundError, match="rag-abstracts"):
        client.models.retrieve("gpt-4o")


def test_a_plain_answer_carries_its_citations_as_data(client, endpoint):
    # Sampling options are accepted and ignored; an unknown field does not fail the request.
    completion = ask(client, DICTIONARY_QUESTION, temperature=0.7, top_p=0.9, max_tokens=50, user="me",
                     extra_body={"some_future_field": {"x": 1}})
    direct = endpoint.assistant.ask(DICTIONARY_QUESTION)
    content = completion.choices[0].message.content
    assert content == direct.text and "O(ln t/t^(1/4))" in content and "[1]" in content
    assert completion.choices[0].finish_reason == "stop" and completion.model == "rag-abstracts"
    [citation] = completion.citations
    assert citation == {"number": 1, "paper_id": direct.citations[0].paper_id, "title": DICTIONARY_PAPER, "url": "",
                        "text": direct.citations[0].text, "supported": True}
    assert "convergence rate of O(ln t/t^(1/4))" in citation["text"]
    assert completion.rag == {"refused": False, "mode": "extractive", "notes": [], "unsupported": []}


def test_a_streamed_answer_ends_with_its_citations_then_done(client, endpoint):
    text, chunks = streamed(client, DICTIONARY_QUESTION)
    plain = ask(client, DICTIONARY_QUESTION)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert len(chunks) >= 4  # the role, the answer in pieces, the end
    assert text.strip() == plain.choices[0].message.content
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop" and all(c.choices[0].finish_reason is None for c in chunks[:-1])
    assert last.citations == plain.citations and last.rag["refused"] is False
    assert len({c.id for c in chunks}) == 1

    # On the wire: server-sent events, the last one `data: [DONE]`.
    body = {"model": "rag-abstracts", "stream": True, "messages": [{"role": "user", "content": DICTIONARY_QUESTION}]}
    response = httpx.post(f"{endpoint.url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {KEY}"})
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [line for line in response.text.split("\n\n") if line]
    assert events[-1] == "data: [DONE]" and all(e.startswith("data: ") for e in events)
    assert json.loads(events[-2][6:])["citations"] == plain.citations


def test_a_follow_up_is_answered_from_the_conversation(client):
    first = ask(client, DICTIONARY_QUESTION)
    history = [{"role": "system", "content": "You are a helpful assistant."},  # a client's own: ignored
               {"role": "user", "content": DICTIONARY_QUESTION},
               {"role": "assistant", "content": first.choices[0].message.content}]
    follow = ask(client, FOLLOW_UP, history)
    assert [c["title"] for c in follow.citations] == [DICTIONARY_PAPER]
    assert "synthetic data and real-world sensor readings" in follow.choices[0].message.content
    text, chunks = streamed(client, FOLLOW_UP, history)
    assert [c["title"] for c in chunks[-1].citations] == [DICTIONARY_PAPER] and "sensor readings" in text
    alone = ask(client, FOLLOW_UP)  # without the conversation the same words are about another paper
    assert DICTIONARY_PAPER not in [c["title"] for c in alone.citations]


def test_a_refusal_is_an_ordinary_answer_without_citations(client):
    completion = ask(client, UNANSWERABLE)
    assert completion.choices[0].message.content == REFUSAL
    assert completion.citations == [] and completion.rag["refused"] is True
    text, chunks = streamed(client, UNANSWERABLE)
    assert text.strip() == REFUSAL and chunks[-1].citations == [] and chunks[-1].rag["refused"] is True


def test_our_options_travel_as_extra_fields(client, endpoint):
    s5, dictionary = (endpoint.assistant.papers(search=title, limit=1)[0].paper_id for title in (S5_PAPER, DICTIONARY_PAPER))
    options = {"k": 3, "answer_mode": "extractive"}
    within = ask(client, S5_QUESTION, extra_body={"filters": {"paper_ids": [s5]}, **options})
    assert [c["paper_id"] for c in within.citations] == [s5] and "87.6%" in within.choices[0].message.content
    elsewhere = ask(client, S5_QUESTION, extra_body={"filters": {"paper_ids": [dictionary]}, **options})
    assert elsewhere.rag["refused"] is True  # the paper that answers is filtered out
    with_sources = ask(client, DICTIONARY_QUESTION, extra_body={"sources_in_content": True})
    assert with_sources.choices[0].message.content.endswith(f"Sources:\n[1] {DICTIONARY_PAPER}")
    text, _ = streamed(client, DICTIONARY_QUESTION, extra_body={"sources_in_content": True})
    assert text.rstrip().endswith(f"[1] {DICTIONARY_PAPER}")


@pytest.mark.parametrize("extra, named", [
    ({"k": 0}, "k (the number of papers to consider)"),
    ({"k": "lots"}, "k (the number of papers to consider)"),
    ({"filters": {"date_from": "2024-13"}}, "'date_from' is not valid"),
    ({"filters": {"colour": "red"}}, "no such filter"),
    ({"answer_mode": "llm"}, "RAG_LLM_BASE_URL"),  # no endpoint configured here
    ({"answer_mode": "psychic"}, "Unknown answer mode"),
    ({"stream": "yes"}, "stream must be true or false"),
    ({"n": 3}, "n=1"),
])
def test_a_bad_option_is_a_400_naming_it(client, extra, named):
    for stream in (False, True):  # a streamed request is refused before anything is streamed
        with pytest.raises(openai.BadRequestError) as caught:
            ask(client, DICTIONARY_QUESTION, extra_body=extra, **({"stream": True} if stream and "stream" not in extra else {}))
        assert caught.value.status_code == 400 and named in caught.value.message


def test_malformed_requests_are_400s_in_the_openai_shape(client, endpoint):
    with pytest.raises(openai.BadRequestError, match="Please type a question"):
        ask(client, "   ")
    with pytest.raises(openai.BadRequestError, match="Please type a question"):
        ask(client, "", stream=True)
    with pytest.raises(openai.BadRequestError, match="non-empty list"):
        client.chat.completions.create(model="rag-abstracts", messages=[])
    with pytest.raises(openai.BadRequestError, match="last message must be the user's question"):
        client.chat.completions.create(model="rag-abstracts", messages=[{"role": "user", "content": "hi"},
                                                                        {"role": "assistant", "content": "hello"}])
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    for body, problem in [(b"{not json", "not valid JSON"), (b"[1, 2]", "JSON object"),
                          (b'{"messages": [{"role": "user", "content": 42}]}', "messages[0].content must be text")]:
        response = httpx.post(f"{endpoint.url}/v1/chat/completions", content=body, headers=headers)
        assert response.status_code == 400
        error = response.json()["error"]
        assert problem in error["message"] and error["type"] == "invalid_request_error"
    # Text parts are read; an image part is not (it has no words to search).
    parts = [{"type": "text", "text": DICTIONARY_QUESTION}, {"type": "image_url", "image_url": {"url": "data:,"}}]
    completion = client.chat.completions.create(model="rag-abstracts", messages=[{"role": "user", "content": parts}])
    assert completion.citations[0]["title"] == DICTIONARY_PAPER
    # Only JSON is read: a web page can post plain text to a local server without asking first.
    response = httpx.post(f"{endpoint.url}/v1/chat/completions", content=b'{"messages": []}',
                          headers={"Authorization": f"Bearer {KEY}", "Content-Type": "text/plain"})
    assert response.status_code == 415 and "application/json" in response.json()["error"]["message"]
    response = httpx.get(f"{endpoint.url}/v1/embeddings", headers=headers)
    assert response.status_code == 404 and "/v1/chat/completions" in response.json()["error"]["message"]


def test_an_oversized_body_is_a_413(client, endpoint):
    long_history = [{"role": "user", "content": "word " * 60_000}]  # ~300 KB, over the default 256 KB
    with pytest.raises(openai.APIStatusError) as caught:
        ask(client, DICTIONARY_QUESTION, long_history)
    assert caught.value.status_code == 413 and "RAG_SERVE_MAX_BODY_KB" in caught.value.message


def test_a_missing_or_wrong_key_is_a_401(endpoint):
    with pytest.raises(openai.AuthenticationError, match="not valid") as caught:
        ask(endpoint.client(key="sk-wrong"), DICTIONARY_QUESTION)
    assert caught.value.status_code == 401 and KEY not in str(caught.value.body)
    with pytest.raises(openai.AuthenticationError, match="not valid"):
        endpoint.client(key="sk-wrong").models.list()
    response = httpx.post(f"{endpoint.url}/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 401 and response.json()["error"]["type"] == "authentication_error"
    assert "Authorization: Bearer" in response.json()["error"]["message"]


def test_without_a_key_only_loopback(tmp_path, bundled_home):
    with pytest.raises(RagError, match="RAG_SERVE_API_KEY"):
        check_exposure("0.0.0.0", Settings.test_profile(tmp_path).serve.api_key)
    check_exposure("127.0.0.1", Settings.test_profile(tmp_path).serve.api_key)
    check_exposure("0.0.0.0", Settings.test_profile(tmp_path, serve={"api_key": KEY}).serve.api_key)
    open_endpoint = Endpoint(Assistant(Settings.test_profile(bundled_home)))
    try:
        assert ask(open_endpoint.client(key=None), DICTIONARY_QUESTION).citations[0]["title"] == DICTIONARY_PAPER
        # A request naming another host is a web page's (DNS rebinding), not a local client's.
        response = httpx.get(f"{open_endpoint.url}/v1/models", headers={"Host": "attacker.example"})
        assert response.status_code == 403 and "RAG_SERVE_API_KEY" in response.json()["error"]["message"]
    finally:
        open_endpoint.stop()


def test_an_index_that_is_not_ready_is_a_503(tmp_path):
    empty = Endpoint(Assistant(Settings.test_profile(tmp_path / "empty")))
    opening = Endpoint(Assistant(Settings.test_profile(tmp_path / "opening")), prepare=False)
    try:
        with pytest.raises(openai.InternalServerError, match="rag ingest") as caught:
            ask(empty.client(key=None), DICTIONARY_QUESTION)
        assert caught.value.status_code == 503
        with pytest.raises(openai.InternalServerError, match="still being opened") as caught:
            ask(opening.client(key=None), DICTIONARY_QUESTION, stream=True)
        assert caught.value.status_code == 503 and caught.value.response.headers["retry-after"] == "5"
        assert httpx.get(f"{opening.url}/health").json() == {"status": "starting", "papers": 0}
        assert [m.id for m in opening.client(key=None).models.list().data] == ["rag-abstracts"]  # listed meanwhile
    finally:
        empty.stop()
        opening.stop()


def test_concurrent_clients_are_all_answered_at_most_two_at_once(bundled_home):
    running = Endpoint(Assistant(Settings.test_profile(bundled_home)), concurrency=2)
    at_once, most = [0], [0]
    lock = threading.Lock()
    real_ask = running.assistant.ask

    def counted_ask(*args, **kwargs):
        with lock:
            at_once[0] += 1
            most[0] = max(most[0], at_once[0])
        try:
            time.sleep(0.05)  # long enough for the requests to overlap
            return real_ask(*args, **kwargs)
        finally:
            with lock:
                at_once[0] -= 1

    running.assistant.ask = counted_ask
    try:
        client = running.client(key=None)
        questions = [DICTIONARY_QUESTION, UNANSWERABLE] * 4
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda q: ask(client, q), questions))
        assert [bool(a.citations) for a in answers] == [True, False] * 4
        assert most[0] == 2
    finally:
        running.stop()


def test_a_client_that_hangs_up_mid_stream_frees_its_slot(bundled_home):
    running = Endpoint(Assistant(Settings.test_profile(bundled_home)), concurrency=1)
    try:
        client = running.client(key=None)
        for _ in range(3):  # with one slot, a slot kept by a dropped stream would block every later request
            stream = ask(client, "Which papers here study state-space models?", stream=True)
            next(iter(stream))
            stream.close()
        assert ask(client, DICTIONARY_QUESTION, timeout=60).citations[0]["title"] == DICTIONARY_PAPER
    finally:
        running.stop()


def test_an_llm_answer_streams_through_and_an_llm_failure_mid_stream_is_an_error_event(bundled_home):
    with FakeOpenAI() as llm:
        settings = Settings.test_profile(bundled_home, llm={"base_url": llm.base_url, "api_key": "sk-upstream", "max_retries": 0})
        running = Endpoint(Assistant(settings))
        try:
            client = running.client(key=None)
            llm.script(Reply("The learner converges at O(ln t/t^(1/4)) [1]."))
            text, chunks = streamed(client, DICTIONARY_QUESTION)
            assert len(chunks) > 4 and "O(ln t/t^(1/4))" in text  # word by word, as the model sent it
            assert chunks[-1].rag["mode"] == "llm" and chunks[-1].citations[0]["number"] == 1
            llm.script(Reply(status=401))  # the upstream key refused: the operator's to fix, a 502 for the client
            with pytest.raises(openai.APIError, match="RAG_LLM_API_KEY"):
                streamed(client, DICTIONARY_QUESTION)
            llm.script(Reply(status=401))
            with pytest.raises(openai.APIStatusError) as caught:
                ask(client, DICTIONARY_QUESTION)
            assert caught.value.status_code == 502 and "sk-upstream" not in caught.value.message
        finally:
            running.stop()


@pytest.mark.slow
def test_rag_serve_runs_from_the_command_line(bundled_home, tmp_path):
    env = cli_env(bundled_home, RAG_SERVE_API_KEY=KEY)
    refused = subprocess.run([rag_command(), "serve", "--host", "0.0.0.0"], env=cli_env(bundled_home), capture_output=True,
                             text=True, timeout=120)
    assert refused.returncode == 2 and "RAG_SERVE_API_KEY" in refused.stderr and "Traceback" not in refused.stderr
    process = subprocess.Popen([rag_command(), "serve", "--port", "0"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        while not any("papers indexed" in line for line in lines):
            line = process.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        url = next(line.split(" on ")[1].split(",")[0] for line in lines if "endpoint is on" in line)
        client = openai.OpenAI(base_url=url, api_key=KEY, max_retries=0)
        assert ask(client, DICTIONARY_QUESTION).citations[0]["title"] == DICTIONARY_PAPER
    finally:
        output = stop_process(process, lines)
    assert "67 papers indexed" in output and "API key required" in output and KEY not in output
