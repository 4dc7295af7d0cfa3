"""The web chat end to end in a real browser: Debian's Chromium driven by Playwright (never `playwright install`).

What a user does: ask (by example and by typing), watch the answer stream in, click a citation and read
the highlighted sentence in its abstract, ask a follow-up, clear; upload a JSON Lines file, read the
report, find and ask about its papers; and markup inside a corpus file always shows as text.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures.files import ARXIV_SAMPLE, UI_UPLOAD
from tests.fixtures.servers import serve_app

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's Chromium is not installed (apt-get install -y chromium, or `make browser-deps` as root)"),
]
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
# What the page waits for is real work (an answer, the corpus map's projection) on a 2-core machine that may be
# running other work beside: 5 s, Playwright's default, was once too short for the map here, beside an ingest.
expect.set_options(timeout=30_000)

S5_QUESTION = "What average accuracy does the S5-PTD model reach on the Long-Range Arena benchmark?"
MARKUP_TITLE = '<img src=x onerror="window.__xss=1"> Markup in <b>titles</b> stays text'
ANSWER = ".rag-answer:not(.rag-streaming)"
# True once the chat log has kept its scroll position for half a second. The chat scrolls itself to the newest
# answer 70-160 ms after it shows as finished (measured); a click aimed before that can land beside its target
# (a citation click once missed its marker in CI this way).
CHAT_AT_REST = """() => {
  var log = document.querySelector('#rag-chatbot [role=log]');
  var top = log ? log.scrollTop : 0, now = performance.now();
  if (window.__chatTop !== top) { window.__chatTop = top; window.__chatSince = now; return false; }
  return now - window.__chatSince > 500;
}"""
# Records, in the page, whether a partly streamed answer (text, no sources yet) was ever on screen.
WATCH_STREAMING = """
window.__streamed = false;
new MutationObserver(function () {
  var partial = document.querySelector('.rag-streaming .rag-text p:not(.rag-thinking)');
  if (partial) window.__streamed = true;
}).observe(document, { subtree: true, childList: true, characterData: true });
"""


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
            headless=True,
        )
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser):
    """A fresh browser session (its own context, so its own Gradio session) that records what it shouldn't do."""
    contexts = []

    def opener(url: str):
        context = browser.new_context(viewport={"width": 1360, "height": 1000})
        contexts.append(context)
        page = context.new_page()
        page.add_init_script(WATCH_STREAMING)
        page.dialogs, page.offsite = [], []
        page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
        page.on("request", lambda r: page.offsite.append(r.url) if not r.url.startswith(("http://127.0.0.1", "data:", "blob:")) else None)
        page.set_default_timeout(30_000)
        page.goto(url)
        expect(page.locator("#rag-question textarea")).to_be_visible()
        return page

    yield opener
    for context in contexts:
        context.close()


def ask(page, question: str):
    """Type a question, send it with Enter, and return the finished answer's element."""
    before = page.locator(ANSWER).count()
    box = page.locator("#rag-question textarea")
    box.fill(question)
    box.press("Enter")
    expect(page.locator(ANSWER)).to_have_count(before + 1)
    page.wait_for_function(CHAT_AT_REST, polling=50)
    return page.locator(ANSWER).last


@pytest.fixture(scope="module")
def real_app(seed_assistant):
    demo, url = serve_app(seed_assistant)
    yield url
    demo.close()


def test_chat_streams_a_cited_answer_whose_source_shows_the_highlighted_sentence(real_app, open_page):
    page = open_page(real_app)
    # The empty chat offers example questions; one click asks it.
    example = page.get_by_text(S5_QUESTION)
    expect(example).to_be_visible()
    example.click()
    answer = page.locator(ANSWER).last
    expect(answer).to_contain_text("87.6% accuracy on the Long-Range Arena benchmark")
    expect(page.locator("#rag-question textarea")).to_have_value("")
    # The bundled page has no dates or categories, so there is nothing to filter by.
    expect(page.locator("#rag-categories")).to_be_hidden()
    expect(page.locator("#rag-date-from")).to_be_hidden()

    # Typed questions stream in: partial text first, then the answer with its sources.
    answer = ask(page, "Which papers here study state-space models?")
    assert page.evaluate("window.__streamed"), "no partly streamed answer was ever shown"
    expect(answer.locator("details.rag-source")).to_have_count(answer.locator("a.rag-cite").count())

    # A citation marker opens its source: title, score, and the cited sentence highlighted in the abstract.
    first = page.locator(ANSWER).first
    source = first.locator("details.rag-source").first
    expect(source.locator(".rag-abstract")).to_be_hidden()
    first.locator("a.rag-cite").first.click()
    expect(source).to_have_attribute("open", "")
    expect(source).to_contain_text("Robustifying State-space Models for Long Sequences via Approximate Diagonalization")
    expect(source.locator(".rag-score")).to_contain_text("score")
    highlight = source.locator("mark.rag-highlight")
    expect(highlight).to_be_visible()
    expect(highlight).to_contain_text("our S5-PTD model averages 87.6% accuracy")
    expect(source.locator(".rag-abstract")).to_contain_text("State-space models (SSMs) have recently emerged")

    # A follow-up is answered from this session's conversation.
    ask(page, "What convergence rate does the online dictionary learner get?")
    follow = ask(page, "And what data did they test it on?")
    expect(follow.locator(".rag-source-title").first).to_have_text("Online Orthogonal Dictionary Learning Based on Frank-Wolfe Method")
    expect(follow).to_contain_text("real-world sensor readings")

    # Another browser session starts with its own, empty conversation.
    other = open_page(real_app)
    expect(other.get_by_text(S5_QUESTION)).to_be_visible()
    expect(other.locator(".rag-answer")).to_have_count(0)

    # Clearing empties the chat and brings the examples back.
    page.locator("#rag-clear").click()
    expect(page.locator(".rag-answer")).to_have_count(0)
    expect(page.get_by_text(S5_QUESTION)).to_be_visible()
    assert page.offsite == [] and other.offsite == [], "the page reached beyond this machine"


@pytest.fixture
def fast_app(new_assistant):
    assistant = new_assistant(corpus=[ARXIV_SAMPLE])
    demo, url = serve_app(assistant)
    yield url, assistant
    demo.close()


def test_upload_then_ask_about_its_papers_with_markup_shown_as_text(fast_app, open_page):
    url, assistant = fast_app
    page = open_page(url)
    expect(page.locator("#rag-header")).to_contain_text(f"{assistant.count()} papers indexed")

    page.get_by_role("tab", name="Papers").click()
    page.locator("#rag-upload input[type=file]").set_input_files(str(UI_UPLOAD))
    report = page.locator("#rag-report")
    expect(report).to_contain_text("2 added")
    expect(report).to_contain_text("2 skipped")
    expect(report).to_contain_text("ui_upload.jsonl:3")
    expect(report).to_contain_text("ui_upload.jsonl:4")
    expect(page.locator("#rag-header")).to_contain_text(f"{assistant.count()} papers indexed")

    # The new papers are listed and searchable; their markup is text.
    search = page.locator("#rag-search textarea")
    search.fill("glass sponges spicules")
    search.press("Enter")
    card = page.locator("details.rag-paper").first
    expect(card.locator(".rag-paper-title")).to_have_text(MARKUP_TITLE)
    card.locator("summary").click()
    expect(card.locator(".rag-abstract")).to_contain_text("<script>window.__xss=2</script>")
    expect(card.locator(".rag-authors")).to_have_text("<b>Eve</b> Mallory")
    expect(card.locator("a[href^='javascript:']")).to_have_count(0)

    # Ask about an uploaded paper: cited, with its link. This corpus has dates and categories: filters show.
    page.get_by_role("tab", name="Chat").click()
    expect(page.locator("#rag-categories")).to_be_visible()
    expect(page.locator("#rag-date-from")).to_be_visible()
    answer = ask(page, "How quickly do exomoons become tidally locked around cold gas giants?")
    expect(answer).to_contain_text("83% of the simulated exomoons become tidally locked")
    answer.locator("a.rag-cite").first.click()
    source = answer.locator("details.rag-source").first
    expect(source.locator(".rag-source-title")).to_have_text("Tidal Locking of Exomoons Around Cold Gas Giants")
    expect(source.locator("a.rag-link")).to_have_attribute("href", "https://example.org/papers/exomoon-tides")

    # The paper with markup in its title, abstract and link: all shown as typed, nothing runs.
    answer = ask(page, "How much less loss do glass sponge spicules have than optical fibres?")
    expect(answer.locator(".rag-text")).to_contain_text("<script>window.__xss=2</script>")
    expect(answer.locator(".rag-source-title").first).to_have_text(MARKUP_TITLE)
    expect(answer.locator("a[href^='javascript:']")).to_have_count(0)

    # The corpus map draws every paper; hovering one shows its title (as text).
    page.get_by_role("tab", name="Corpus map").click()
    expect(page.locator("#rag-map-caption")).to_contain_text(f"all {assistant.count()} papers")
    points = page.locator("#rag-map path[aria-roledescription='point']")
    expect(points).to_have_count(assistant.count())
    page.locator("#rag-map path[aria-roledescription='point'][aria-label*='Markup in']").hover(force=True)
    expect(page.locator("#vg-tooltip-element")).to_contain_text(MARKUP_TITLE)

    assert page.evaluate("window.__xss") is None, "script from a corpus file ran"
    assert page.dialogs == [], "script from a corpus file opened a dialog"
    assert page.offsite == [], "the page reached beyond this machine"


MAP_CATEGORIES = ["<b>cs.LG</b>", 'say "quantum"', "R&D", "cs.AI"]  # markup, quotes, an ampersand, a dot


def test_the_corpus_map_colours_by_category_whatever_the_category_names_hold(new_assistant, open_page, tmp_path):
    corpus = tmp_path / "categories.jsonl"
    with corpus.open("w", encoding="utf-8") as handle:
        for i in range(16):
            handle.write(json.dumps({"id": f"map-{i}", "title": f"Paper {i} on subject {i % 5}", "categories": [MAP_CATEGORIES[i % 4]],
                                     "abstract": f"Sentence one about subject {i % 5}. Sentence two about item {i}."}) + "\n")
    demo, url = serve_app(new_assistant(corpus=[corpus]))
    try:
        page = open_page(url)
        page.get_by_role("tab", name="Corpus map").click()
        points = page.locator("#rag-map path[aria-roledescription='point']")
        expect(points).to_have_count(16)
        labels = page.locator("#rag-map .role-legend-label text")

        page.get_by_label("Category").check()
        expect(page.locator("#rag-map .role-legend-title")).to_have_text("Category")
        expect(labels).to_have_count(4)  # was one, "undefined", with every point uncoloured
        assert sorted(labels.all_text_contents()) == sorted(MAP_CATEGORIES)  # the names as typed, as text
        strokes = set(points.evaluate_all("els => els.map(e => e.getAttribute('stroke'))"))
        assert len(strokes) == 4 and not strokes & {None, "", "none", "transparent"}, strokes
        expect(page.locator("#rag-map path[aria-label*='category: <b>cs.LG</b>']")).to_have_count(4)

        page.get_by_label("Topic").check()  # and back
        expect(page.locator("#rag-map .role-legend-title")).to_have_text("Topic")
        expect(labels.first).not_to_have_text("undefined")
        assert "undefined" not in labels.all_text_contents() and points.count() == 16
        assert page.evaluate("window.__xss") is None and page.dialogs == []
    finally:
        demo.close()

