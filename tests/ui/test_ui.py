"""The web chat, through `gradio_client` against the running app (and its HTML rendering, directly).

Two apps are served on free 127.0.0.1 ports: the real one (MiniLM over the bundled corpus, where answer
quality matters) and a fast one (the test profile's hashing embedder over small fixtures, for uploads,
filters and errors). `rag ui` itself is run as a subprocess for the command-line checks.
"""

from __future__ import annotations

import gzip
import html
import json
import math
import subprocess

import httpx
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from rag import Answer, Assistant, Citation, LLMError, RagError, Settings
from rag.settings import UISettings
from tests.fixtures.files import ARXIV_SAMPLE, HF_DAILY_SAMPLE, UI_UPLOAD
from tests.fixtures.processes import clean_env, rag_command, start_rag_ui, stop_process
from tests.fixtures.servers import free_port, message_text, serve_app
from ui import render
from ui.access import is_loopback, login_for
from ui.handlers import Handlers, examples_for, make_filters

S5_QUESTION = "What average accuracy does the S5-PTD model reach on the Long-Range Arena benchmark?"
S5_TITLE = "Robustifying State-space Models for Long Sequences via Approximate Diagonalization"


@pytest.fixture(scope="module")
def real_app(seed_assistant):
    demo, url = serve_app(seed_assistant)
    yield url
    demo.close()


@pytest.fixture(scope="module")
def fast_app(tmp_path_factory):
    settings = Settings.test_profile(tmp_path_factory.mktemp("ui-home"), ui={"auth": "", "max_upload_mb": 1})
    assistant = Assistant(settings)
    assistant.ingest([ARXIV_SAMPLE, HF_DAILY_SAMPLE])
    demo, url = serve_app(assistant)
    yield url, assistant
    demo.close()
    assistant.close()


def client(url: str, **kwargs) -> Client:
    return Client(url, verbose=False, **kwargs)


# --- the /ask endpoint: answers as data ---------------------------------------------------------------


def test_ask_endpoint_returns_the_answer_with_its_citations(real_app, seed_assistant):
    data = client(real_app).predict(S5_QUESTION, api_name="/ask")
    answer = Answer.model_validate(data)
    assert not answer.refused
    assert "87.6%" in answer.text and "[1]" in answer.text
    cited = answer.citations[0]
    assert cited.title == S5_TITLE
    abstract = seed_assistant.paper(cited.paper_id).abstract
    assert cited.spans and all(abstract[s:e] in cited.text for s, e in cited.spans)
    assert "87.6%" in " ".join(abstract[s:e] for s, e in cited.spans)


def test_ask_endpoint_takes_the_conversation_for_follow_ups(real_app):
    api = client(real_app)
    first = Answer.model_validate(api.predict("What convergence rate does the online dictionary learner get?", api_name="/ask"))
    history = [{"role": "user", "content": first.question}, first.as_message()]
    follow = Answer.model_validate(api.predict("And what data did they test it on?", history, api_name="/ask"))
    assert not follow.refused
    assert follow.citations[0].paper_id == first.citations[0].paper_id
    assert "data" in follow.text


def test_ask_endpoint_says_plainly_when_the_abstracts_do_not_answer(real_app):
    data = client(real_app).predict("What is the boiling point of liquid helium on Mars?", api_name="/ask")
    assert data["refused"] is True and data["citations"] == []


def test_ask_endpoint_filters_by_category_and_date(fast_app):
    url, _ = fast_app
    api = client(url)
    question = "How do readable twins explain unreadable models?"
    kept = api.predict(question, None, 5, None, "2025-01", "2025-12", ["cs.AI"], api_name="/ask")
    assert kept["citations"] and kept["citations"][0]["title"] == "Readable Twins of Unreadable Models"
    dropped = api.predict(question, None, 5, None, "", "", ["cs.CL"], api_name="/ask")
    assert all(c["title"] != "Readable Twins of Unreadable Models" for c in dropped["citations"])


def test_ask_endpoint_errors_are_clear_messages(fast_app):
    url, _ = fast_app
    api = client(url)
    with pytest.raises(AppError, match="empty"):
        api.predict("   ", api_name="/ask")
    with pytest.raises(AppError, match="not a date"):
        api.predict("What do twins do?", None, 5, None, "last spring", api_name="/ask")


# --- the chat endpoint: streaming and the sources panel ---------------------------------------------------


def chat_outputs(url: str, question: str, **controls) -> list:
    args = [question, [], controls.get("mode", "extractive"), controls.get("k", 5), controls.get("date_from", ""), controls.get("date_to", ""), controls.get("categories", [])]
    job = client(url).submit(*args, api_name="/chat")
    job.result(timeout=60)
    return job.outputs()


def last_message(output) -> str:
    return message_text(output[1][-1])


def test_chat_streams_the_answer_then_shows_its_sources_with_the_cited_sentence(real_app, seed_assistant):
    outputs = chat_outputs(real_app, S5_QUESTION)
    messages = [last_message(o) for o in outputs]
    assert any("rag-streaming" in m for m in messages[:-1]), "no partial answer was streamed"
    final = messages[-1]
    assert "rag-streaming" not in final
    # The marker links to a source panel of the same answer; the panel has the title, score and highlight.
    href = final.split('class="rag-cite" href="#', 1)[1].split('"', 1)[0]
    assert f'id="{href}"' in final
    assert html.escape(S5_TITLE) in final and "score " in final
    answer = seed_assistant.ask(S5_QUESTION)
    cited = answer.citations[0]
    abstract = seed_assistant.paper(cited.paper_id).abstract
    start, end = cited.spans[0]
    assert f'<mark class="rag-highlight">{html.escape(abstract[start:end])}</mark>' in final
    # The user's question shows as typed, and the box is cleared for the next one.
    question_box, chat = outputs[-1]
    assert question_box == "" and html.escape(S5_QUESTION) in message_text(chat[-2])


def test_chat_shows_errors_as_messages_not_traces(fast_app):
    url, _ = fast_app
    empty = last_message(chat_outputs(url, "  ")[-1])
    assert "rag-error" in empty and "empty" in empty and "Traceback" not in empty
    bad_date = last_message(chat_outputs(url, "What do twins do?", date_from="last spring")[-1])
    assert "rag-error" in bad_date and "not a date" in bad_date


def test_a_failing_answerer_or_dead_endpoint_is_a_message_in_the_chat(new_assistant):
    assistant = new_assistant(corpus=[ARXIV_SAMPLE])

    refused = "The LLM endpoint at http://127.0.0.1:9/v1 did not answer (connection refused)."

    def dead_endpoint(*args, **kwargs):
        yield "The first words "
        raise LLMError(refused)

    def dead_ask(*args, **kwargs):
        raise LLMError(refused)

    def bug(*args, **kwargs):
        raise ConnectionResetError("peer went away")
        yield  # a generator, like Assistant.stream

    demo, url = serve_app(assistant)
    try:
        assistant.stream = dead_endpoint
        message = last_message(chat_outputs(url, "What do readable twins do?")[-1])
        assert "rag-error" in message and "did not answer (connection refused)" in message
        assistant.stream = bug
        message = last_message(chat_outputs(url, "What do readable twins do?")[-1])
        assert "rag-error" in message and "Something went wrong on the server (ConnectionResetError)" in message
        assert "peer went away" not in message and "Traceback" not in message
        assistant.ask = dead_ask
        with pytest.raises(AppError, match="did not answer"):
            client(url).predict("What do readable twins do?", api_name="/ask")
    finally:
        demo.close()


def _mode_choices(demo) -> list:
    config = demo.get_config_file()
    radio = next(c for c in config["components"] if c.get("props", {}).get("elem_id") == "rag-mode")
    return [value for _, value in radio["props"]["choices"]]


def test_llm_mode_is_offered_only_when_an_endpoint_is_configured(new_assistant):
    from ui.layout import build_app

    plain = new_assistant("a")
    configured = new_assistant("b", llm={"base_url": "http://127.0.0.1:9/v1"})
    assert _mode_choices(build_app(plain)) == ["extractive"]
    assert _mode_choices(build_app(configured)) == ["extractive", "llm"]


# --- papers, uploads and the corpus map ------------------------------------------------------------------


def test_papers_endpoint_lists_and_searches(fast_app):
    url, assistant = fast_app
    api = client(url)
    everything = api.predict("", 200, 0, api_name="/papers")
    assert everything["total"] == assistant.count() == len(everything["papers"])
    found = api.predict("angular power maps MIMO", 3, 0, api_name="/papers")
    assert found["papers"][0]["title"] == "Blind Construction of Angular Power Maps in Massive MIMO Networks"


def test_upload_indexes_the_file_and_reports_each_skipped_record(fast_app):
    url, assistant = fast_app
    before = assistant.count()
    api = client(url)
    report, cleared = api.predict(handle_file(str(UI_UPLOAD)), api_name="/upload")
    assert cleared is None
    assert "<b>2</b> added" in report and "<b>2</b> skipped" in report
    # Skipped records point into the file the user uploaded, by its own name, never a server path.
    assert "ui_upload.jsonl:3" in report and "invalid JSON" in report
    assert "ui_upload.jsonl:4" in report and "no abstract" in report
    assert "rag-upload-" not in report and "/tmp" not in report
    assert assistant.count() == before + 2

    answer = api.predict("How quickly do exomoons become tidally locked around cold gas giants?", api_name="/ask")
    assert answer["citations"][0]["title"] == "Tidal Locking of Exomoons Around Cold Gas Giants"
    assert "83%" in answer["text"]

    again, _ = api.predict(handle_file(str(UI_UPLOAD)), api_name="/upload")
    assert "<b>0</b> added" in again and "<b>2</b> unchanged" in again


def test_upload_takes_gzip_and_shows_names_as_text(fast_app, tmp_path):
    url, assistant = fast_app
    odd = tmp_path / "<img src=x onerror=alert(1)> odd name.jsonl.gz"
    with gzip.open(odd, "wt", encoding="utf-8") as handle:
        handle.write('{"id": "gz-1", "title": "Compressed Corpora Load Fine", "abstract": "A gzip file of one record is read like any other."}\n')
    report, _ = client(url).predict(handle_file(str(odd)), api_name="/upload")
    assert "<b>1</b> added" in report
    # Gradio already strips "<" and ">" from upload names; what is left is shown as text.
    assert "odd name.jsonl.gz" in report and "<img" not in report
    assert assistant.paper("gz-1") is not None


def test_upload_refuses_unknown_types_binary_files_and_oversized_files(fast_app, tmp_path):
    url, assistant = fast_app
    api = client(url)
    before = assistant.count()

    program = tmp_path / "tool.exe"  # refused by the upload box itself
    program.write_bytes(b"MZ\x00\x01")
    with pytest.raises(AppError, match="Invalid file type"):
        api.predict(handle_file(str(program)), api_name="/upload")

    archive = tmp_path / "corpus.tar.gz"  # a .gz, but not of a format the corpus reader knows
    archive.write_bytes(gzip.compress(b"not a corpus"))
    report, _ = api.predict(handle_file(str(archive)), api_name="/upload")
    assert "rag-error" in report and "not a corpus file this app reads" in report

    binary = tmp_path / "papers.jsonl"
    binary.write_bytes(b"\x00\x01\x02 not text")
    report, _ = api.predict(handle_file(str(binary)), api_name="/upload")
    assert "rag-error" in report and "papers.jsonl: binary data" in report and "rag-upload-" not in report

    huge = tmp_path / "huge.jsonl"  # the fast app allows 1 MB
    huge.write_text('{"title": "t", "abstract": "' + "a" * (1_200_000) + '"}\n', encoding="utf-8")
    with pytest.raises(Exception, match="(?i)size|large|413"):
        api.predict(handle_file(str(huge)), api_name="/upload")
    assert assistant.count() == before


def test_corpus_map_endpoint_places_every_paper_with_its_title(fast_app):
    url, assistant = fast_app
    data = client(url).predict(api_name="/corpus_map")
    assert data["total"] == assistant.count() == len(data["points"])
    titles = {p.title for p in assistant.papers(limit=500)}
    assert {p["title"] for p in data["points"]} == titles
    assert all(math.isfinite(p["x"]) and math.isfinite(p["y"]) for p in data["points"])
    assert data["categories"]["cs.CV"] >= 2 and data["date_min"] <= data["date_max"]
    assert len({(p["x"], p["y"]) for p in data["points"]}) == len(data["points"])  # no two papers stacked
    facets = assistant.corpus_facets()  # what the filters are built from: no points, same counts
    assert facets.points == [] and facets.categories == data["categories"] and facets.total == data["total"]


def test_the_map_sends_the_same_points_whichever_the_colour_and_category_names_as_typed(new_assistant, tmp_path):
    """Gradio's plot redraws with its old data when the data and the colour column change together: switching
    to categories sent a new column, and drew every point uncoloured with one legend entry, "undefined"."""
    names = ["<b>cs.LG</b>", 'say "quantum"', "R&D"]
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps({"id": f"m{i}", "title": f"Paper {i}", "abstract": f"About thing {i}.",
                                          "categories": [names[i % 3]]}) + "\n" for i in range(9)), encoding="utf-8")
    handlers = Handlers(new_assistant(corpus=[corpus]))
    by_topic, _, _ = handlers.map_views("topic")
    by_category, _, choice = handlers.map_views("category")
    assert by_topic.color == "topic" and by_category.color == "category" and choice["value"] == "category"
    assert by_topic.value == by_category.value  # only the colour column changes
    data = by_category.value
    column = data["columns"].index("category")
    assert sorted({row[column] for row in data["data"]}) == sorted(names)  # as typed: the plot shows them as text


def test_corpus_map_of_the_bundled_corpus_groups_papers_into_named_topics(seed_assistant):
    cmap = seed_assistant.corpus_map()
    assert cmap.method == "t-SNE" and len(cmap.points) == cmap.total == 67
    topics = {p.topic for p in cmap.points}
    assert 3 <= len(topics) <= 10 and all(t.strip() for t in topics)
    assert cmap.categories == {} and cmap.with_dates == 0  # the bundled page has neither: no filters shown
    assert seed_assistant.corpus_map() is cmap  # cached until the corpus changes


# --- serving: address, login, the command line ----------------------------------------------------------


def test_loopback_needs_no_login_and_other_addresses_do(capsys):
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.org")
    assert login_for(UISettings(), "127.0.0.1") is None
    with pytest.raises(RagError, match="RAG_UI_AUTH"):
        login_for(UISettings(), "0.0.0.0")
    assert login_for(UISettings(auth="ada:s3cr:et"), "0.0.0.0") == ("ada", "s3cr:et")
    with pytest.raises(RagError, match="user:password"):
        login_for(UISettings(auth="no-colon"), "0.0.0.0")
    assert login_for(UISettings(allow_unauthenticated=True), "0.0.0.0") is None
    warning = capsys.readouterr().err
    assert "WARNING" in warning and "without a login" in warning


def test_a_login_is_enforced_when_configured(fast_app):
    _, assistant = fast_app
    demo, url = serve_app(assistant, auth=("ada", "lovelace"))
    try:
        assert httpx.get(url + "gradio_api/info").status_code in (401, 403)
        with pytest.raises(Exception):
            client(url).predict("", 5, 0, api_name="/papers")
        papers = client(url, auth=("ada", "lovelace")).predict("", 5, 0, api_name="/papers")
        assert papers["total"] == assistant.count()
    finally:
        demo.close()


def test_rag_ui_refuses_an_open_network_address_without_a_login():
    process = subprocess.Popen([rag_command(), "ui", "--host", "0.0.0.0", "--port", str(free_port())], env=clean_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 2
    assert "error:" in output and "RAG_UI_AUTH=user:password" in output and "Traceback" not in output


def test_rag_ui_indexes_the_default_corpus_then_serves_the_chat(tmp_path):
    port = free_port()
    env = clean_env(RAG_HOME=str(tmp_path / "home"), RAG_EMBEDDING_BACKEND="hashing", RAG_CORPUS_DEFAULT=str(ARXIV_SAMPLE))
    process, lines = start_rag_ui(port, env, wait=120)
    try:
        output = "".join(lines)
        assert "Indexing the default corpus arxiv_sample.jsonl" in output
        assert "papers indexed" in output and f"http://127.0.0.1:{port}" in output
        assert "gradio.live" not in output  # no share link
        answer = client(f"http://127.0.0.1:{port}/").predict("How are angular power maps built blind in massive MIMO?", api_name="/ask")
        assert answer["citations"][0]["title"] == "Blind Construction of Angular Power Maps in Massive MIMO Networks"
    finally:
        stop_process(process)


# --- examples and rendering ---------------------------------------------------------------------------


def test_example_questions_are_answered_from_the_bundled_corpus(seed_assistant):
    examples = examples_for(seed_assistant)
    assert len(examples) >= 3
    for example in examples:
        answer = seed_assistant.ask(example["text"])
        assert not answer.refused and answer.citations, example["text"]


def test_example_questions_for_another_corpus_name_its_own_papers(fast_assistant):
    fast_assistant.ingest([ARXIV_SAMPLE])
    titles = {p.title for p in fast_assistant.papers()}
    examples = examples_for(fast_assistant)
    assert examples and all(any(t in e["text"] for t in titles) for e in examples)


def test_filters_from_the_controls():
    assert make_filters("", "", []) is None
    assert make_filters(" 2024 ", "2024-06-30", ["cs.LG"]) == {"date_from": "2024", "date_to": "2024-06-30", "categories": ["cs.LG"]}
    # A malformed date is checked where every caller's filters are, in Assistant (test_validation.py):
    # the controls pass it on as typed.
    assert make_filters("June", "", []) == {"date_from": "June", "date_to": None, "categories": []}


MARKUP = '<img src=x onerror="alert(1)"> <script>alert(2)</script> *not bold* $x$'


def test_titles_abstracts_and_answers_render_as_text():
    abstract = "First one.   Second <b>sentence</b>. Third."
    citation = Citation(number=1, paper_id="p<1>", title=MARKUP, text="Second <b>sentence</b>.", spans=[(13, 36)], score=0.5,
                        url="javascript:alert(3)", abstract=abstract, authors=["<i>Eve</i>"])
    from rag.types import Paper

    paper = Paper(paper_id="p<1>", title=MARKUP, abstract=abstract, authors=["<i>Eve</i>"])
    answer = Answer(question="q", text=f"Second <b>sentence</b>. [1] {MARKUP} [1]", citations=[citation])
    out = render.answer(answer, "t1")
    assert "<img" not in out and "<script" not in out and "<b>sentence" not in out and "<i>Eve" not in out
    assert html.escape(MARKUP) in out
    assert '<mark class="rag-highlight">Second &lt;b&gt;sentence&lt;/b&gt;.</mark>' in out
    assert "javascript:" not in out  # only http(s) links become links
    assert out.count('href="#rag-t1-src-1"') == 2 and 'id="rag-t1-src-1"' in out
    assert "\n\n" not in out  # no blank line: Markdown never reaches inside
    card = render.paper_card(paper)
    assert "<img" not in card and html.escape(MARKUP) in card


def test_unsupported_claims_and_notes_are_shown():
    citation = Citation(number=1, paper_id="p", title="T", text="A.", spans=[(0, 2)], supported=False)
    answer = Answer(question="q", text="A claim. [1] Another claim. [1]", citations=[citation], unsupported=["Another claim."], notes=["Your question was cut."])
    out = render.answer(answer, "t2")
    assert '<span class="rag-unsupported"' in out and "not supported by its source" in out
    assert out.index("rag-unsupported") > out.index("A claim.")
    assert "rag-source-unsupported" in out and "Your question was cut." in out


def test_highlight_merges_overlapping_spans_and_clips_to_the_abstract():
    assert render.highlight("abcdef", [(1, 3), (2, 4), (5, 99)]) == 'a<mark class="rag-highlight">bcd</mark>e<mark class="rag-highlight">f</mark>'
    assert render.highlight("a <b> c", [], cited="<b>") == 'a <mark class="rag-highlight">&lt;b&gt;</mark> c'
