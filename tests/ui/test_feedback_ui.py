"""The chat's exports and thumbs: what an answer's HTML carries for "Copy as Markdown" and "Download .bib", and
feedback taken only on the answers of the session it comes from (ui/feedback.py); then the same buttons clicked
in a real browser (Debian's Chromium through Playwright, as tests/ui/test_browser.py drives it)."""

from __future__ import annotations

import html
import re

import gradio as gr
import pytest

from rag import Answer, Citation
from tests.fixtures.files import DATA
from tests.fixtures.servers import serve_app
from tests.ui.test_browser import ANSWER, CHROMIUM, ask, browser, expect, open_page  # noqa: F401 - fixtures
from ui import render
from ui.feedback import NOT_AN_ANSWER, FeedbackHandlers
from ui.handlers import Handlers

QUESTION = "Which papers here study optimal transport?"


def exported(page_html: str, kind: str) -> str:
    """The text a button copies: what the browser makes of the hidden <pre> (entities decoded)."""
    match = re.search(rf'<pre class="rag-export rag-export-{kind}" hidden>(.*?)</pre>', page_html, re.DOTALL)
    assert match and "\n" not in match.group(1)  # no blank line inside the chat's HTML block
    return html.unescape(match.group(1))


def test_an_answer_carries_its_markdown_and_bibtex_as_escaped_text():
    markup = '<img src=x onerror="window.__xss=1"></pre><script>alert(1)</script>'
    citation = Citation(number=1, paper_id="2401.00001", title=f"Title {markup}", text="It gets 87.6%.", abstract="It gets 87.6%.")
    answer = Answer(question="What does it get?", text="It gets 87.6%. [1]", citations=[citation])
    page = render.answer(answer, "t1")
    assert "<script>" not in page and "<img" not in page and page.count("</pre>") == 2
    assert 'class="rag-action rag-copy-md"' in page and 'class="rag-action rag-download-bib"' in page
    assert exported(page, "md") == answer.to_markdown() and exported(page, "bib") == answer.to_bibtex()
    refused = render.answer(Answer(question="q", text="The indexed abstracts don't answer this.", refused=True), "t2")
    assert "rag-copy-md" in refused and "rag-download-bib" not in refused  # nothing cited, nothing to download


@pytest.fixture
def feedback(new_assistant):
    assistant = new_assistant(corpus=[DATA / "export_papers.jsonl"])
    return assistant, FeedbackHandlers(assistant, Handlers(assistant).public_message)


def liked(index, value) -> gr.LikeData:
    return gr.LikeData(None, {"index": index, "value": "", "liked": value})


def session_chat(handlers: Handlers, question: str) -> dict:
    """One question through the chat's own handler: the session's answers state at the end."""
    *_, (_, chat, _, answers) = handlers.respond(question, [], [], {}, "extractive", 5, "", "", [])
    assert set(answers) == {len(chat) - 1}
    return answers


def test_thumbs_rate_only_this_sessions_answers(feedback):
    assistant, f = feedback
    chat = Handlers(assistant)
    mine, theirs = session_chat(chat, QUESTION), session_chat(chat, "What rate does the KME-OT estimator converge at?")
    (index,) = mine

    # Up: stored at once, the form stays closed. Another session's state has its own answer at that index.
    form, *_, status, pending = f.rate(mine, liked(index, True))
    assert form["visible"] is False and "thumbs-up is saved" in status and pending is None
    f.rate(theirs, liked(index, True))
    rows = assistant.feedback_store.list()
    assert [r.answer_id for r in rows] == [mine[index].id, theirs[index].id]

    # An index that is no answer of this session (an error message, a question, another chat's) stores nothing.
    for answers, index_sent in (({}, index), (mine, 0), (mine, 99), (mine, "1"), (mine, True)):
        form, *_, status, _ = f.rate(answers, liked(index_sent, False))
        assert form["visible"] is False and html.escape(NOT_AN_ANSWER) in status
    assert len(assistant.feedback_store.list()) == 2

    # Down: stored at once, and the form opens with this answer's citations to tick.
    form, head, wrong, note, paper, status, pending = f.rate(mine, liked(index, False))
    answer = mine[index]
    assert form["visible"] is True and pending == index and html.escape(answer.question) in head
    assert wrong["choices"] == [(f"[{c.number}] {c.title}", c.number) for c in answer.citations]
    assert assistant.feedback_store.for_answer(answer.id).rating == -1

    form, status, pending = f.send(index, mine, [2], "the second is off topic", "")
    assert form["visible"] is False and "feedback is saved" in status and pending is None
    row = assistant.feedback_store.for_answer(answer.id)
    assert (row.rating, row.wrong_citations, row.comment) == (-1, [2], "the second is off topic")
    # Sent from a session whose state doesn't hold that answer: nothing changes.
    form, status, _ = f.send(index, {}, [1], "not mine", "")
    assert "thumbs-down first" in status and assistant.feedback_store.for_answer(answer.id).comment == "the second is off topic"

    # A paper that isn't indexed keeps the form open with the message; taking the thumb back removes the row.
    form, status, pending = f.send(index, mine, [], "", "A paper nobody wrote")
    assert form["visible"] is True and "No indexed paper has the id or title" in status and pending == index
    form, *_, status, _ = f.rate(mine, liked(index, ""))
    assert "removed" in status and assistant.feedback_store.for_answer(answer.id) is None


# --- in the browser -----------------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's Chromium is not installed (apt-get install -y chromium)")
def test_the_buttons_copy_download_and_rate_in_the_browser(new_assistant, open_page, tmp_path):
    import bibtexparser

    assistant = new_assistant(corpus=[DATA / "export_papers.jsonl"])
    store = assistant.feedback_store
    demo, url = serve_app(assistant)
    try:
        page = open_page(url)
        page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url.rstrip("/"))
        answer = ask(page, QUESTION)
        sources = answer.locator("details.rag-source")
        expect(sources.first).to_be_visible()
        shown = sources.count()  # the optimal-transport papers the answerer judged to answer: two or more
        assert shown >= 2

        # Thumbs up: stored at once, on this answer; the status line says so and no form opens.
        page.get_by_role("button", name="Like", exact=True).last.click()
        expect(page.locator("#rag-feedback-status")).to_contain_text("thumbs-up is saved")
        expect(page.locator("#rag-feedback")).to_have_count(0)  # not shown: not even rendered
        (up,) = store.list()
        assert up.rating == 1 and up.question == QUESTION

        # "Copy as Markdown" puts the answer with its references on the clipboard, as Answer.to_markdown() has it.
        copy = answer.locator("button.rag-copy-md")
        copy.click()
        expect(copy).to_have_text("Copied ✓")
        assert page.evaluate("navigator.clipboard.readText()") == up.answer.to_markdown()

        # "Download .bib" saves references.bib: the answer's BibTeX, which a real parser reads whole.
        with page.expect_download() as download:
            answer.locator("button.rag-download-bib").click()
        assert download.value.suggested_filename == "references.bib"
        saved = tmp_path / "references.bib"
        download.value.save_as(saved)
        bib = saved.read_text(encoding="utf-8")
        assert bib == up.answer.to_bibtex()
        library = bibtexparser.parse_string(bib)
        assert not library.failed_blocks and len(library.entries) == shown == len(up.answer.citations)

        # Thumbs down on a second answer: stored at once, then the form, its citations to tick, a note, sent.
        second = ask(page, "Which papers here study optimal transport for rendering?")
        cited = second.locator("details.rag-source").count()
        page.get_by_role("button", name="Dislike", exact=True).last.click()
        form = page.locator("#rag-feedback").first  # Gradio gives a Group's id to its inner div too
        expect(form).to_be_visible()
        expect(form).to_contain_text("What was wrong with the answer to “Which papers here study optimal transport for rendering?”")
        ticks = page.locator("#rag-feedback-wrong input[type=checkbox]")
        expect(ticks).to_have_count(cited)
        down = store.list()[-1]
        assert len(store.list()) == 2 and down.rating == -1 and down.wrong_citations == []
        ticks.first.check()
        page.locator("#rag-feedback-note textarea").fill("the first source is about <b>something</b> else")
        page.locator("#rag-feedback-send").click()
        expect(page.locator("#rag-feedback-status")).to_contain_text("feedback is saved")
        expect(form).to_be_hidden()
        row = store.get(down.id)
        assert (row.rating, row.wrong_citations, row.comment) == (-1, [1], "the first source is about <b>something</b> else")
        assert row.answer.id != up.answer.id and store.get(up.id).rating == 1

        # Taking the thumb back removes the row.
        page.get_by_role("button", name="Disliked", exact=True).last.click()
        expect(page.locator("#rag-feedback-status")).to_contain_text("removed")
        assert store.get(down.id) is None and store.count() == 1
        assert page.dialogs == [] and page.offsite == [], "a dialog opened, or the page reached beyond this machine"
    finally:
        demo.close()
