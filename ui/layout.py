"""The page: the Gradio components of the three views, and which event triggers which handler.

Three views: the chat (streamed answers, each with a sources panel), the papers (browse, search, upload
a corpus file) and the corpus map. The only state kept here is per browser session (`gr.State`), so one
user never sees another's conversation; what each event does is in `ui.handlers`.

Named API endpoints for `gradio_client` (see "Use via API" in the page footer):
    /ask          question (+ history, k, mode, filters) -> the Answer as JSON, citations included
    /papers       search, limit, offset -> indexed papers
    /corpus_map   -> the 2-D map of the papers and the corpus's categories and dates
"""

from __future__ import annotations

import gradio as gr

from rag import Assistant
from ui import render
from ui.feedback import FeedbackHandlers
from ui.handlers import PAGE_SIZE, UPLOAD_TYPES, Handlers, examples_for, pick_example

__all__ = ["build_app"]


def build_app(assistant: Assistant) -> gr.Blocks:
    """The Gradio Blocks over ``assistant``; `ui.app.launch` serves it with the theme, stylesheet and script."""
    h = Handlers(assistant)
    settings = assistant.settings
    llm_ready = settings.llm.configured
    modes = [("Extractive: quotes the abstracts", "extractive")]
    if llm_ready:
        modes.append((f"LLM: {settings.llm.model} writes from the abstracts", "llm"))
    default_mode = "llm" if llm_ready and settings.answer.mode != "extractive" else "extractive"
    answer_slots = settings.ui.answer_concurrency

    examples = examples_for(assistant)
    with gr.Blocks(title="Abstracts assistant", analytics_enabled=False, fill_width=False) as demo:
        header = gr.HTML(h.header())
        history = gr.State([])
        answers = gr.State({})  # this session's answers by chat message index: what its thumbs rate (ui.feedback)
        rating = gr.State(None)  # the message index the thumbs-down form is about
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
                            placeholder=render.welcome(),
                            examples=examples,
                            feedback_options=("Like", "Dislike"),
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
                        with gr.Group(visible=False, elem_id="rag-feedback") as feedback_form:
                            feedback_head = gr.HTML()
                            wrong = gr.CheckboxGroup([], value=[], label="Tick each source that doesn't say what the answer says",
                                                     elem_id="rag-feedback-wrong")
                            note = gr.Textbox(label="Note", placeholder="What was wrong? (optional)", lines=2, max_lines=6,
                                              max_length=4000, elem_id="rag-feedback-note")
                            paper = gr.Textbox(label="A paper that answers it", placeholder="its id or title (optional)",
                                               elem_id="rag-feedback-paper")
                            with gr.Row():
                                send = gr.Button("Send feedback", variant="primary", size="sm", elem_id="rag-feedback-send")
                                close = gr.Button("Close", size="sm", elem_id="rag-feedback-close")
                        feedback_status = gr.HTML(elem_id="rag-feedback-status")
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

        # --- the chat ----------------------------------------------------------------------------------
        chat_inputs = [question, chatbot, history, answers, mode, k, date_from, date_to, categories]
        chat_outputs = [question, chatbot, history, answers]
        question.submit(
            h.respond, chat_inputs, chat_outputs, api_name="chat", api_visibility="undocumented",
            concurrency_id="answer", concurrency_limit=answer_slots, show_progress="hidden",
        )
        chatbot.example_select(pick_example, None, question, api_visibility="private", queue=False).then(
            h.respond, chat_inputs, chat_outputs, api_visibility="private",
            concurrency_id="answer", concurrency_limit=answer_slots, show_progress="hidden",
        )
        forget = [history, answers, rating, feedback_form, feedback_status]
        cleared = ([], {}, None, gr.update(visible=False), "")
        clear.click(lambda: ([], "", *cleared), None, [chatbot, question, *forget], api_visibility="private", queue=False)
        chatbot.clear(lambda: cleared, None, forget, api_visibility="private", queue=False)

        # --- feedback: thumbs on each answer, a form on thumbs-down -------------------------------------
        f = FeedbackHandlers(assistant, h.public_message)
        chatbot.like(f.rate, answers, [feedback_form, feedback_head, wrong, note, paper, feedback_status, rating],
                     api_visibility="private", queue=False)
        send.click(f.send, [rating, answers, wrong, note, paper], [feedback_form, feedback_status, rating], api_visibility="private")
        close.click(lambda: (gr.update(visible=False), None), None, [feedback_form, rating], api_visibility="private", queue=False)

        # --- papers, uploads, filters and the map ------------------------------------------------------
        page_outputs = [paper_list, papers_offset, previous_page, next_page]
        search.submit(lambda s: h.show_papers(s, 0), search, page_outputs, api_visibility="private")
        previous_page.click(lambda s, o: h.show_papers(s, o - PAGE_SIZE), [search, papers_offset], page_outputs, api_visibility="private")
        next_page.click(lambda s, o: h.show_papers(s, o + PAGE_SIZE), [search, papers_offset], page_outputs, api_visibility="private")

        filter_outputs = [date_row, date_info, categories]
        map_outputs = [corpus_plot, map_caption, colour]
        # One bound method for all three map events: Gradio's default concurrency group is the function's id,
        # so they share one group and draw the map one at a time (`h.map_views` makes a new object each time).
        map_views = h.map_views
        colour.input(map_views, colour, map_outputs, api_visibility="private")
        # No queue limit on uploads: one is indexed at a time (`h.slot`), and another is told so at once
        # rather than queued behind it until its request times out.
        upload_box.upload(
            h.upload, upload_box, [report, upload_box], api_name="upload", api_visibility="undocumented",
            concurrency_id="ingest", concurrency_limit=None, show_progress_on=report,
        ).then(
            lambda s: (h.header(), *h.show_papers(s, 0), *h.filter_views()),
            search,
            [header, *page_outputs, *filter_outputs],
            api_visibility="private",
        ).then(map_views, colour, map_outputs, api_visibility="private")

        demo.load(
            lambda: (h.header(), *h.show_papers("", 0), *h.filter_views()),
            None,
            [header, *page_outputs, *filter_outputs],
            api_visibility="private",
        ).then(map_views, colour, map_outputs, api_visibility="private")
        if settings.feeds.every:  # the background sync (ui.app) changes the paper count and the sync status line
            gr.Timer(60).tick(h.header, None, header, api_visibility="private", queue=False)

        # --- the named API -----------------------------------------------------------------------------
        # Gradio limits a concurrency group to its lowest member's limit: every answering event states it
        # (without it, /ask fell back to the queue default of 1 and held every answer to one at a time).
        gr.api(h.ask, api_name="ask", concurrency_id="answer", concurrency_limit=answer_slots)
        gr.api(h.list_papers, api_name="papers")
        gr.api(h.corpus_map_data, api_name="corpus_map")
    return demo
