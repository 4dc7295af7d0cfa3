"""The web chat: a Gradio app, thin over `rag.Assistant`.

    rag ui [--host H --port P]      # or `make run`; http://127.0.0.1:7860 by default

Three views: the chat (streamed answers, each with a sources panel), the papers (browse, search, upload
a corpus file) and the corpus map. Everything goes through the public `Assistant` API; the only state kept
here is per browser session (`gr.State`), so one user never sees another's conversation.

Named API endpoints for `gradio_client` (see "Use via API" in the page footer):
    /ask          question (+ history, k, mode, filters) -> the Answer as JSON, citations included
    /papers       search, limit, offset -> indexed papers
    /corpus_map   -> the 2-D map of the papers and the corpus's categories and dates
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

# Gradio reads these when imported: no usage analytics, and no Hugging Face Hub lookups on a machine
# that may be offline.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402

from rag import Answer, Assistant, RagError, Settings  # noqa: E402
from rag.settings import UISettings  # noqa: E402
from ui import render  # noqa: E402
from ui.assets import CSS, HEAD  # noqa: E402

log = logging.getLogger(__name__)

__all__ = ["build_app", "examples_for", "launch", "login_for", "make_filters", "serve"]

PAGE_SIZE = 20
DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
# What an upload may be; the suffix is rebuilt from these words, never taken from the uploaded name.
UPLOAD_NAME = re.compile(r"\.(txt|jsonl|json|csv)(\.gz)?$", re.IGNORECASE)
UPLOAD_TYPES = [".txt", ".jsonl", ".json", ".csv", ".gz"]
UNEXPECTED = "Something went wrong on the server ({kind}); the details are in its log. Please try again."

# Questions the bundled corpus answers well, each with the paper that answers it: shown only when that
# paper is indexed, so a different default corpus never shows examples it can't answer.
BUNDLED_EXAMPLES = [
    ("What average accuracy does the S5-PTD model reach on the Long-Range Arena benchmark?", "Robustifying State-space Models for Long Sequences via Approximate Diagonalization"),
    ("Which papers here study state-space models?", "Robustifying State-space Models for Long Sequences via Approximate Diagonalization"),
    ("How does Model Breadcrumbs merge fine-tuned models?", "Model Breadcrumbs: Scaling Multi-Task Model Merging with Sparse Masks"),
    ("What convergence rate does the online dictionary learner get?", "Online Orthogonal Dictionary Learning Based on Frank-Wolfe Method"),
]

THEME = gr.themes.Soft(
    primary_hue="indigo",
    neutral_hue="slate",
    # System fonts: the default theme fonts would be fetched from Google, which an offline browser can't.
    font=["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"],
    font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
)


# --- pure helpers (tested without a server) -----------------------------------------------------------


def make_filters(date_from: str | None, date_to: str | None, categories: list[str] | None) -> dict | None:
    """The chat's filter controls as `Filters` fields; a malformed date is the user's to fix."""
    date_from, date_to = (date_from or "").strip(), (date_to or "").strip()
    for value in (date_from, date_to):
        if value and not DATE.match(value):
            raise RagError(f"“{value}” is not a date the filter understands: write 2024, 2024-05 or 2024-05-17.")
    filters = {"date_from": date_from or None, "date_to": date_to or None, "categories": list(categories or [])}
    return filters if any(filters.values()) else None


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def login_for(ui: UISettings, host: str) -> tuple[str, str] | None:
    """The (user, password) to require, or None. Refuses an open non-loopback address unless opted out."""
    secret = ui.auth.get_secret_value()
    if secret:
        user, sep, password = secret.partition(":")
        if not (sep and user and password):
            raise RagError("RAG_UI_AUTH must look like user:password.")
        return user, password
    if is_loopback(host):
        return None
    if ui.allow_unauthenticated:
        print(
            f"WARNING: serving the chat on {host} without a login (RAG_UI_ALLOW_UNAUTHENTICATED=true): anyone who "
            "can reach this address can read the corpus, ask questions and add papers.",
            file=sys.stderr,
            flush=True,
        )
        return None
    raise RagError(
        f"{host} is reachable from other machines, so the chat needs a login there: set RAG_UI_AUTH=user:password "
        "(or RAG_UI_ALLOW_UNAUTHENTICATED=true to serve it open, at your own risk)."
    )


def examples_for(assistant: Assistant) -> list[dict]:
    """Example questions for the empty chat, about papers that are actually indexed."""
    wanted = {title for _, title in BUNDLED_EXAMPLES}
    indexed = {p.title for title in wanted for p in assistant.papers(search=title, limit=1) if p.title == title}
    chosen = [question for question, title in BUNDLED_EXAMPLES if title in indexed]
    if len(chosen) < 2:  # another corpus: ask about a few of its own papers
        chosen = [f"What does the paper “{p.title}” propose?" for p in assistant.papers(limit=3)]
    return [{"text": question} for question in chosen]


def _plain_answer(answer: Answer) -> dict:
    return answer.model_dump(mode="json")


# --- the app -----------------------------------------------------------------------------------------


def build_app(assistant: Assistant) -> gr.Blocks:
    """The Gradio Blocks over ``assistant``; `launch` serves it with the theme, stylesheet and script."""
    settings = assistant.settings
    llm_ready = settings.llm.configured
    modes = [("Extractive: quotes the abstracts", "extractive")]
    if llm_ready:
        modes.append((f"LLM: {settings.llm.model} writes from the abstracts", "llm"))
    default_mode = "llm" if llm_ready and settings.answer.mode != "extractive" else "extractive"
    max_bytes = settings.ui.max_upload_mb * 1024 * 1024
    answer_slots = settings.ui.answer_concurrency
    embedder = {"minilm": "MiniLM", "hashing": "hashing (test-only)"}.get(settings.embedding.backend, settings.embedding.backend)

    # --- chat ------------------------------------------------------------------------------------------

    def respond(message: str, chat: list, history: list, mode: str, k: float, date_from: str, date_to: str, categories: list):
        """Stream one answer into this session's chat; errors become a message in the chat."""
        message = message or ""
        chat = list(chat or [])
        history = list(history or [])
        if message.strip():
            chat.append({"role": "user", "content": render.user(message)})
        chat.append({"role": "assistant", "content": render.partial("")})
        yield "", chat, history
        try:
            filters = make_filters(date_from, date_to, categories)
            so_far = ""
            stream = assistant.stream(message, history, k=int(k) if k else None, filters=filters, answer_mode=mode or None)
            for piece in stream:
                so_far += piece
                chat[-1] = {"role": "assistant", "content": render.partial(so_far)}
                yield "", chat, history
            answer = stream.answer
            turn = uuid.uuid4().hex[:10]
            chat[-1] = {"role": "assistant", "content": render.answer(answer, turn, settings.llm.model)}
            history += [{"role": "user", "content": message}, answer.as_message()]
        except RagError as exc:
            chat[-1] = {"role": "assistant", "content": render.error(str(exc))}
        except Exception as exc:  # a dead endpoint or a bug: the user gets a message, the log gets the trace
            log.exception("answering failed")
            chat[-1] = {"role": "assistant", "content": render.error(UNEXPECTED.format(kind=type(exc).__name__))}
        yield "", chat, history

    def ask(
        question: str,
        history: list[dict] | None = None,
        k: int | None = None,
        mode: str | None = None,
        date_from: str = "",
        date_to: str = "",
        categories: list[str] | None = None,
    ) -> dict:
        """Answer a question from the indexed abstracts.

        Args:
            question: the question.
            history: earlier turns, [{"role": "user", "content": ...}, answer-as-message, ...]; an assistant turn may carry "paper_ids".
            k: papers to consider (default: the server's setting).
            mode: "extractive" or "llm" (default: the server's setting).
            date_from: only papers dated on or after this (YYYY, YYYY-MM or YYYY-MM-DD).
            date_to: only papers dated on or before this.
            categories: only papers in any of these categories.
        Returns:
            The Answer: text, citations (number, paper_id, title, text, spans, score, url, supported), refused, notes, unsupported.
        """
        try:
            filters = make_filters(date_from, date_to, categories)
            return _plain_answer(assistant.ask(question, history or None, k=k or None, filters=filters, answer_mode=mode or None))
        except RagError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        except Exception as exc:
            log.exception("answering failed")
            raise gr.Error(UNEXPECTED.format(kind=type(exc).__name__), print_exception=False) from None

    # --- papers ----------------------------------------------------------------------------------------

    def list_papers(search: str = "", limit: int = PAGE_SIZE, offset: int = 0) -> dict:
        """Indexed papers: in index order, or the best matches of ``search`` over titles and abstracts.

        Args:
            search: words to search for (empty: all papers).
            limit: papers to return (at most 200).
            offset: papers to skip.
        Returns:
            {"total": papers indexed, "papers": [{paper_id, title, abstract, authors, date, categories, url}, ...]}
        """
        limit = max(1, min(int(limit), 200))
        found = assistant.papers(search=search or "", limit=limit, offset=max(0, int(offset)))
        return {"total": assistant.count(), "papers": [p.model_dump(mode="json") for p in found]}

    def corpus_map_data() -> dict:
        """The papers on a 2-D map of their embeddings, and the corpus's categories and date range.

        Returns:
            {"total", "method", "points": [{paper_id, title, x, y, category, topic, date}], "categories": {name: count}, "date_min", "date_max"}
        """
        return assistant.corpus_map().model_dump(mode="json")

    def show_papers(search: str, offset: int):
        search = (search or "").strip()
        offset = max(0, int(offset or 0))
        found = assistant.papers(search=search, limit=PAGE_SIZE + 1, offset=offset)
        more, found = len(found) > PAGE_SIZE, found[:PAGE_SIZE]
        total = assistant.count()
        span = f"{offset + 1}–{offset + len(found)}" if found else "none"
        heading = f"Best matches for “{search}”: {span}" if search else f"{total:,} papers indexed: {span}"
        return (
            render.papers(found, heading),
            offset,
            gr.update(interactive=offset > 0),
            gr.update(interactive=more),
        )

    def header_html() -> str:
        count = assistant.count()
        return (
            '<div id="rag-header"><h1>Abstracts assistant</h1>'
            '<span class="rag-tagline">Answers quoted from the abstracts, every claim cited, or a plain “not in the abstracts”.</span>'
            f'<span class="rag-stat">{count:,} papers indexed</span></div>'
        )

    def upload(file: str | None, progress=gr.Progress()):
        """Index one uploaded corpus file; returns the report (and clears the upload box)."""
        if not file:
            return render.upload_error("No file arrived; please choose a corpus file again."), None
        source = Path(file)
        shown = source.name  # for display only, always escaped; never part of a path we write or read
        workdir = Path(tempfile.mkdtemp(prefix="rag-upload-"))
        try:
            match = UPLOAD_NAME.search(shown)
            if not match:
                return render.upload_error(
                    f"“{shown}” is not a corpus file this app reads: upload page text (.txt), JSON Lines (.jsonl), "
                    "JSON (.json) or CSV (.csv), optionally gzip-compressed (.gz)."
                ), None
            size = source.stat().st_size
            if size > max_bytes:
                return render.upload_error(
                    f"“{shown}” is {size / 1024 / 1024:.1f} MB; uploads are limited to {settings.ui.max_upload_mb} MB "
                    "(RAG_UI_MAX_UPLOAD_MB). Larger corpora go in with `rag ingest FILE`."
                ), None
            suffix = "." + match.group(1).lower() + (".gz" if match.group(2) else "")
            stored = workdir / f"upload{suffix}"
            shutil.copyfile(source, stored)

            last = [0.0]

            def on_progress(read: int, total: int | None) -> None:
                now = time.monotonic()
                if now - last[0] >= 0.2 or read == total:
                    last[0] = now
                    progress((read, total), desc="Indexing papers", unit="papers")

            progress(0, desc="Reading the file")
            try:
                report = assistant.ingest([stored], on_progress=on_progress)
            except RagError as exc:
                return render.upload_error(str(exc).replace(str(stored), shown)), None
            except Exception as exc:
                log.exception("ingest of an upload failed")
                return render.upload_error(
                    f"Indexing stopped ({type(exc).__name__}). What was read so far is kept; upload the file again to carry on."
                ), None
            for skipped in report.skipped:
                skipped.location = skipped.location.replace(str(stored), shown)
            report.errors = [e.replace(str(stored), shown) for e in report.errors]
            return render.ingest_report(report, shown, assistant.count()), None
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
            source.unlink(missing_ok=True)  # Gradio's cached copy: the index holds what we need

    # --- corpus picture and filters ---------------------------------------------------------------------

    def filter_views():
        """The date and category filters, shown only where the corpus has dates and categories."""
        facets = assistant.corpus_facets()  # metadata only: quick, unlike the map itself
        date_info = (
            f"Dates in the corpus run from {facets.date_min} to {facets.date_max} "
            f"({facets.with_dates:,} of {facets.total:,} papers dated)."
            if facets.with_dates
            else ""
        )
        choices = [(f"{name} ({count:,})", name) for name, count in list(facets.categories.items())[:500]]
        return (
            gr.update(visible=bool(facets.with_dates)),
            gr.update(value=date_info, visible=bool(facets.with_dates)),
            gr.update(choices=choices, visible=bool(choices)),
        )

    def map_views(colour: str):
        """The corpus map (computed once per corpus change, in the background after start-up)."""
        import pandas as pd

        try:
            cmap = assistant.corpus_map()
        except Exception as exc:
            log.exception("drawing the corpus map failed")
            return gr.ScatterPlot(value=None), f"The map could not be drawn ({type(exc).__name__}); the details are in the server log.", gr.update()
        group = "category" if colour == "category" and cmap.with_categories else "topic"
        x, y = f"{cmap.method or 'map'} 1", f"{cmap.method or 'map'} 2"  # the coordinates mean nothing else
        frame = pd.DataFrame(
            [{x: round(p.x, 2), y: round(p.y, 2), "title": p.title, group: getattr(p, group), "date": p.date or "–"} for p in cmap.points],
            columns=[x, y, "title", group, "date"],
        )
        if cmap.total == 0:
            caption = "No papers are indexed yet: add a corpus file in the Papers view."
        else:
            sample = f"a random sample of {len(cmap.points):,} of the {cmap.total:,} papers" if cmap.sampled else f"all {cmap.total:,} papers"
            colour_note = "their first arXiv category" if group == "category" else "topic clusters (k-means), named by their most typical title words"
            caption = (
                f"{sample}, placed by {cmap.method} of their {embedder} embeddings: papers close together are about similar things. "
                f"Colour: {colour_note}. Hover a point for its title."
            )
        plot = gr.ScatterPlot(
            value=frame, x=x, y=y, color=group, tooltip=["title", group, "date"],
            color_title="Category" if group == "category" else "Topic",
        )
        colour_choices = [("Topic", "topic")] + ([("Category", "category")] if cmap.with_categories else [])
        return plot, caption, gr.update(choices=colour_choices, value=group, visible=len(colour_choices) > 1)

    # --- layout ----------------------------------------------------------------------------------------

    examples = examples_for(assistant)
    welcome = (
        '<div class="rag-welcome"><b>Ask about the indexed abstracts.</b><br>'
        "Answers quote the abstracts, and every claim links to its source; when the abstracts don't say, "
        "the assistant says so.</div>"
    )
    with gr.Blocks(title="Abstracts assistant", analytics_enabled=False, fill_width=False) as demo:
        header = gr.HTML(header_html())
        history = gr.State([])
        papers_offset = gr.State(0)
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=7):
                        chatbot = gr.Chatbot(
                            elem_id="rag-chatbot",
                            show_label=False,
                            height="68vh",
                            layout="panel",
                            latex_delimiters=[],  # abstracts are shown as written, "$" and all
                            placeholder=welcome,
                            examples=examples,
                            feedback_options=None,
                            buttons=[],
                            autoscroll=True,
                        )
                        question = gr.Textbox(
                            elem_id="rag-question",
                            show_label=False,
                            placeholder="Ask a question about the papers… (Enter to send)",
                            lines=1,
                            max_lines=6,
                            autofocus=True,
                            submit_btn="Ask",
                        )
                    with gr.Column(scale=3, min_width=240):
                        mode = gr.Radio(
                            modes,
                            value=default_mode,
                            label="Answer mode",
                            info=None if llm_ready else "Set RAG_LLM_BASE_URL (an OpenAI-compatible endpoint) to add LLM answers.",
                            elem_id="rag-mode",
                        )
                        k = gr.Slider(1, 20, value=settings.retrieval.k, step=1, label="Papers to consider (k)", elem_id="rag-k")
                        with gr.Row(visible=False) as date_row:
                            date_from = gr.Textbox(label="From date", placeholder="2024 or 2024-05", elem_id="rag-date-from", min_width=100)
                            date_to = gr.Textbox(label="To date", placeholder="2024-12-31", elem_id="rag-date-to", min_width=100)
                        date_info = gr.Markdown(visible=False)
                        categories = gr.Dropdown(
                            [], value=[], multiselect=True, label="Categories", info="Only papers in any of these.",
                            visible=False, elem_id="rag-categories",
                        )
                        clear = gr.Button("Clear conversation", variant="secondary", elem_id="rag-clear")
            with gr.Tab("Papers", id="papers"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=7):
                        with gr.Row():
                            search = gr.Textbox(
                                show_label=False, placeholder="Search titles and abstracts", elem_id="rag-search",
                                scale=5, submit_btn="Search",
                            )
                        paper_list = gr.HTML(elem_id="rag-paper-list")
                        with gr.Row():
                            previous_page = gr.Button("← Previous", interactive=False, size="sm")
                            next_page = gr.Button("Next →", interactive=False, size="sm")
                    with gr.Column(scale=3, min_width=260):
                        gr.Markdown(
                            "**Add papers**  \nUpload a corpus file: page text (`.txt`), JSON Lines (`.jsonl`), JSON "
                            f"(`.json`) or CSV (`.csv`), optionally `.gz`; up to {settings.ui.max_upload_mb} MB. Papers "
                            "already indexed are left as they are."
                        )
                        upload_box = gr.File(
                            label="Corpus file", file_types=UPLOAD_TYPES, file_count="single", elem_id="rag-upload",
                        )
                        report = gr.HTML(elem_id="rag-report")
            with gr.Tab("Corpus map", id="map"):
                colour = gr.Radio([("Topic", "topic")], value="topic", label="Colour by", visible=False)
                corpus_plot = gr.ScatterPlot(height=560, elem_id="rag-map", show_label=False)
                map_caption = gr.Markdown(elem_id="rag-map-caption")

        chat_inputs = [question, chatbot, history, mode, k, date_from, date_to, categories]
        chat_outputs = [question, chatbot, history]
        question.submit(
            respond, chat_inputs, chat_outputs, api_name="chat", api_visibility="undocumented",
            concurrency_id="answer", concurrency_limit=answer_slots, show_progress="hidden",
        )
        def pick_example(event: gr.SelectData) -> str:
            return event.value["text"]

        chatbot.example_select(pick_example, None, question, api_visibility="private", queue=False).then(respond, chat_inputs, chat_outputs, api_visibility="private", concurrency_id="answer", concurrency_limit=answer_slots, show_progress="hidden")
        clear.click(lambda: ([], [], ""), None, [chatbot, history, question], api_visibility="private", queue=False)
        chatbot.clear(lambda: [], None, history, api_visibility="private", queue=False)

        page_outputs = [paper_list, papers_offset, previous_page, next_page]
        search.submit(lambda s: show_papers(s, 0), search, page_outputs, api_visibility="private")
        previous_page.click(lambda s, o: show_papers(s, o - PAGE_SIZE), [search, papers_offset], page_outputs, api_visibility="private")
        next_page.click(lambda s, o: show_papers(s, o + PAGE_SIZE), [search, papers_offset], page_outputs, api_visibility="private")

        filter_outputs = [date_row, date_info, categories]
        map_outputs = [corpus_plot, map_caption, colour]
        colour.input(map_views, colour, map_outputs, api_visibility="private")
        upload_box.upload(
            upload, upload_box, [report, upload_box], api_name="upload", api_visibility="undocumented",
            concurrency_id="ingest", concurrency_limit=1, show_progress_on=report,
        ).then(
            lambda s: (header_html(), *show_papers(s, 0), *filter_views()),
            search,
            [header, *page_outputs, *filter_outputs],
            api_visibility="private",
        ).then(map_views, colour, map_outputs, api_visibility="private")

        demo.load(
            lambda: (header_html(), *show_papers("", 0), *filter_views()),
            None,
            [header, *page_outputs, *filter_outputs],
            api_visibility="private",
        ).then(map_views, colour, map_outputs, api_visibility="private")
        # Gradio limits a concurrency group to its lowest member's limit: every answering event states it
        # (without it, /ask fell back to the queue default of 1 and held every answer to one at a time).
        gr.api(ask, api_name="ask", concurrency_id="answer", concurrency_limit=answer_slots)
        gr.api(list_papers, api_name="papers")
        gr.api(corpus_map_data, api_name="corpus_map")
    return demo


def _draw_map(assistant: Assistant) -> None:
    try:
        assistant.corpus_map()
    except Exception:  # the map view will try again, and show the error there
        log.exception("drawing the corpus map failed")


def launch(
    assistant: Assistant,
    host: str = "127.0.0.1",
    port: int | None = None,
    *,
    auth: tuple[str, str] | None = None,
    block: bool = True,
    quiet: bool = False,
) -> gr.Blocks:
    """Serve the app for ``assistant``; with ``block=False`` return at once (tests), `demo.close()` stops it."""
    demo = build_app(assistant)
    demo.queue(default_concurrency_limit=1)
    # The map takes seconds for a big corpus: draw it now, in the background (later calls wait for it).
    threading.Thread(target=_draw_map, args=(assistant,), name="corpus-map", daemon=True).start()
    demo.launch(
        server_name=host,
        server_port=port,
        share=False,
        auth=auth,
        auth_message="Sign in to the abstracts assistant." if auth else None,
        prevent_thread_lock=not block,
        quiet=quiet,
        show_error=False,
        max_file_size=f"{assistant.settings.ui.max_upload_mb}mb",
        theme=THEME,
        css=CSS,
        head=HEAD,
        footer_links=["api"],
        ssr_mode=False,
        pwa=False,
        mcp_server=False,
        enable_monitoring=False,
    )
    return demo


def serve(host: str | None = None, port: int | None = None) -> None:
    """`rag ui`: index the default corpus if the store is empty, then serve the chat until Ctrl-C."""
    settings = Settings()
    host = host or settings.ui.host
    port = settings.ui.port if port is None else port
    auth = login_for(settings.ui, host)  # before any slow work: a refused address fails at once
    assistant = Assistant(settings)
    demo = None
    try:
        started = time.perf_counter()
        if assistant.count() == 0 and settings.corpus.auto_index:
            print(f"Indexing the default corpus {settings.corpus.default.name} (first run only)…", flush=True)
        else:
            print(f"Opening the index in {assistant.store.location}…", flush=True)
        assistant.ensure_ready(progress=True)
        print(f"{assistant.count():,} papers indexed ({time.perf_counter() - started:.1f} s). Starting the chat…", flush=True)
        try:
            demo = launch(assistant, host, port, auth=auth, block=False, quiet=True)
        except OSError as exc:
            raise RagError(f"Can't serve on {host}:{port} ({exc}). Is the port in use? Pick another with --port or RAG_UI_PORT.") from None
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        print(f"The chat is on http://{shown}:{port}{' (login required)' if auth else ''}. Ctrl-C stops it.", flush=True)
        demo.block_thread()  # returns on Ctrl-C
    except KeyboardInterrupt:
        # Indexing is resumable: whatever was written is kept and the next start carries on.
        print("\nStopped.", flush=True)
    finally:
        if demo is not None:
            demo.close()
        assistant.close()


