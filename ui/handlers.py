"""What each event of the page does, over one `Assistant`: plain methods, callable without a server.

`Handlers(assistant)` holds the chat (streamed into the session's conversation), the named API endpoints
(/ask, /papers, /corpus_map: Gradio documents them from the docstrings and type hints here), the papers
list, uploads, the date and category filters and the corpus map. Which component triggers which of them
is `ui.layout`'s business; all the HTML comes from `ui.render`; upload limits and copies are `ui.uploads`'.

What a web client is told never holds a path of the server: a `StoreError` (its message names the data
folder and gives an operator's advice) is shown as a plain message and logged in full, and any other
message has the data folder and the temp folder taken out (`public_message`).
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import time
import uuid
from pathlib import Path

import gradio as gr

from rag import Answer, Assistant, RagError, StoreError
from rag.errors import CorpusTooLarge
from ui import render, uploads

log = logging.getLogger(__name__)

__all__ = ["PAGE_SIZE", "UPLOAD_TYPES", "Handlers", "examples_for", "make_filters", "pick_example"]

PAGE_SIZE = 20
# What an upload may be; the suffix is rebuilt from these words, never taken from the uploaded name.
UPLOAD_NAME = re.compile(r"\.(txt|jsonl|json|csv)(\.gz)?$", re.IGNORECASE)
UPLOAD_TYPES = [".txt", ".jsonl", ".json", ".csv", ".gz"]
UNEXPECTED = "Something went wrong on the server ({kind}); the details are in its log. Please try again."
STORE_TROUBLE = (
    "The server could not read or write its index just now; the details are in its log. Please try again, "
    "and tell whoever runs the server if it keeps happening."
)

# Questions the bundled corpus answers well, each with the paper that answers it: shown only when that
# paper is indexed, so a different default corpus never shows examples it can't answer.
BUNDLED_EXAMPLES = [
    ("What average accuracy does the S5-PTD model reach on the Long-Range Arena benchmark?", "Robustifying State-space Models for Long Sequences via Approximate Diagonalization"),
    ("Which papers here study state-space models?", "Robustifying State-space Models for Long Sequences via Approximate Diagonalization"),
    ("How does Model Breadcrumbs merge fine-tuned models?", "Model Breadcrumbs: Scaling Multi-Task Model Merging with Sparse Masks"),
    ("What convergence rate does the online dictionary learner get?", "Online Orthogonal Dictionary Learning Based on Frank-Wolfe Method"),
]


# --- pure helpers -------------------------------------------------------------------------------------


def make_filters(date_from: str | None, date_to: str | None, categories: list[str] | None) -> dict | None:
    """The chat's filter controls as `Filters` fields. They are checked where every caller's are, in
    `Assistant` (a malformed date is the user's to fix, and says so)."""
    date_from, date_to = (date_from or "").strip(), (date_to or "").strip()
    filters = {"date_from": date_from or None, "date_to": date_to or None, "categories": list(categories or [])}
    return filters if any(filters.values()) else None


def examples_for(assistant: Assistant) -> list[dict]:
    """Example questions for the empty chat, about papers that are actually indexed."""
    wanted = {title for _, title in BUNDLED_EXAMPLES}
    indexed = {p.title for title in wanted for p in assistant.papers(search=title, limit=1) if p.title == title}
    chosen = [question for question, title in BUNDLED_EXAMPLES if title in indexed]
    if len(chosen) < 2:  # another corpus: ask about a few of its own papers
        chosen = [f"What does the paper “{p.title}” propose?" for p in assistant.papers(limit=3)]
    return [{"text": question} for question in chosen]


def pick_example(event: gr.SelectData) -> str:
    return event.value["text"]


def _plain_answer(answer: Answer) -> dict:
    return answer.model_dump(mode="json")


def _path_pattern(*roots: Path | str) -> re.Pattern:
    """Any path under one of ``roots`` (as given and resolved), standing alone in a message."""
    names = {str(r) for r in roots} | {os.path.realpath(r) for r in roots}
    names = sorted((n.rstrip("/") for n in names if n and n.rstrip("/")), key=len, reverse=True)
    return re.compile(r"(?<![\w/.~-])(?:" + "|".join(re.escape(n) for n in names) + r")(?:/[^\s'\",;:()]*)?")


# --- the handlers -------------------------------------------------------------------------------------


class Handlers:
    """The page's event handlers, bound to ``assistant``."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.settings = assistant.settings
        self.max_bytes = self.settings.ui.max_upload_mb * 1024 * 1024
        self.limits = uploads.limits_for(self.settings.ui)
        self.slot = uploads.IngestSlot()
        self._data_paths = _path_pattern(self.settings.home)
        self._temp_paths = _path_pattern(tempfile.gettempdir())
        backend = self.settings.embedding.backend
        self.embedder = {"minilm": "MiniLM", "hashing": "hashing (test-only)"}.get(backend, backend)

    def public_message(self, exc: RagError) -> str:
        """What a web client is told about ``exc``: never a path on the server. A storage failure is logged in
        full; one whose message names a folder of the server (its advice is for whoever runs it) is told as a
        plain message. (A Chroma server that can't be reached is named as it is: it holds no path.)"""
        message = str(exc)
        if isinstance(exc, StoreError):
            log.error("a storage failure, shown to a web client: %s", message)
            if self._data_paths.search(message) or self._temp_paths.search(message):
                return STORE_TROUBLE
            return message
        message = self._data_paths.sub("the server's data folder", message)
        return self._temp_paths.sub("a temporary file", message)

    # --- chat ------------------------------------------------------------------------------------------

    def respond(self, message: str, chat: list, history: list, answers: dict, mode: str, k: float, date_from: str, date_to: str, categories: list):
        """Stream one answer into this session's chat; errors become a message in the chat. ``answers``: this
        session's answers by chat message index, what its thumbs rate (`ui.feedback`)."""
        message = message or ""
        chat = list(chat or [])
        history = list(history or [])
        answers = dict(answers or {})
        if message.strip():
            chat.append({"role": "user", "content": render.user(message)})
        chat.append({"role": "assistant", "content": render.partial("")})
        yield "", chat, history, answers
        try:
            filters = make_filters(date_from, date_to, categories)
            so_far = ""
            stream = self.assistant.stream(message, history, k=int(k) if k else None, filters=filters, answer_mode=mode or None)
            for piece in stream:
                so_far += piece
                chat[-1] = {"role": "assistant", "content": render.partial(so_far)}
                yield "", chat, history, answers
            answer = stream.answer
            turn = uuid.uuid4().hex[:10]
            chat[-1] = {"role": "assistant", "content": render.answer(answer, turn, self.settings.llm.model)}
            history += [{"role": "user", "content": message}, answer.as_message()]
            answers[len(chat) - 1] = answer
        except RagError as exc:
            chat[-1] = {"role": "assistant", "content": render.error(self.public_message(exc))}
        except Exception as exc:  # a dead endpoint or a bug: the user gets a message, the log gets the trace
            log.exception("answering failed")
            chat[-1] = {"role": "assistant", "content": render.error(UNEXPECTED.format(kind=type(exc).__name__))}
        yield "", chat, history, answers

    def ask(
        self,
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
            return _plain_answer(self.assistant.ask(question, history or None, k=k or None, filters=filters, answer_mode=mode or None))
        except RagError as exc:
            raise gr.Error(self.public_message(exc), print_exception=False) from None
        except Exception as exc:
            log.exception("answering failed")
            raise gr.Error(UNEXPECTED.format(kind=type(exc).__name__), print_exception=False) from None

    # --- papers ----------------------------------------------------------------------------------------

    def list_papers(self, search: str = "", limit: int = PAGE_SIZE, offset: int = 0) -> dict:
        """Indexed papers: in index order, or the best matches of ``search`` over titles and abstracts.

        Args:
            search: words to search for (empty: all papers).
            limit: papers to return (at most 200).
            offset: papers to skip.
        Returns:
            {"total": papers indexed, "papers": [{paper_id, title, abstract, authors, date, categories, url}, ...]}
        """
        limit = max(1, min(int(limit), 200))
        found = self.assistant.papers(search=search or "", limit=limit, offset=max(0, int(offset)))
        return {"total": self.assistant.count(), "papers": [p.model_dump(mode="json") for p in found]}

    def corpus_map_data(self) -> dict:
        """The papers on a 2-D map of their embeddings, and the corpus's categories and date range.

        Returns:
            {"total", "method", "points": [{paper_id, title, x, y, category, topic, date}], "categories": {name: count}, "date_min", "date_max"}
        """
        return self.assistant.corpus_map().model_dump(mode="json")

    def show_papers(self, search: str, offset: int):
        search = (search or "").strip()
        offset = max(0, int(offset or 0))
        found = self.assistant.papers(search=search, limit=PAGE_SIZE + 1, offset=offset)
        more, found = len(found) > PAGE_SIZE, found[:PAGE_SIZE]
        total = self.assistant.count()
        span = f"{offset + 1}–{offset + len(found)}" if found else "none"
        heading = f"Best matches for “{search}”: {span}" if search else f"{total:,} papers indexed: {span}"
        return (
            render.papers(found, heading),
            offset,
            gr.update(interactive=offset > 0),
            gr.update(interactive=more),
        )

    def header(self) -> str:
        return render.header(self.assistant.count(), self.assistant.sync_status())

    def upload(self, file: str | None, progress=gr.Progress()):
        """Index one uploaded corpus file; returns the report (and clears the upload box)."""
        if not file:
            return render.upload_error("No file arrived; please choose a corpus file again."), None
        source = Path(file)
        shown = source.name  # for display only, always escaped; never part of a path we write or read
        if not self.slot.take(shown):
            uploads.discard(source)
            return render.upload_error(self.slot.busy(shown)), None
        try:
            return self._upload(source, shown, progress)
        except StoreError as exc:  # the store failing before or after the ingest itself
            return render.upload_error(self.public_message(exc)), None
        finally:
            self.slot.release()
            uploads.discard(source)  # Gradio's cached copy: the index holds what we need

    def _upload(self, source: Path, shown: str, progress) -> tuple[str, None]:
        match = UPLOAD_NAME.search(shown)
        if not match:
            return render.upload_error(
                f"“{shown}” is not a corpus file this app reads: upload page text (.txt), JSON Lines (.jsonl), "
                "JSON (.json) or CSV (.csv), optionally gzip-compressed (.gz)."
            ), None
        size = source.stat().st_size
        if size > self.max_bytes:
            return render.upload_error(
                f"“{shown}” is {size / 1024 / 1024:.1f} MB; uploads are limited to {self.settings.ui.max_upload_mb} MB "
                "(RAG_UI_MAX_UPLOAD_MB). Larger corpora go in with `rag ingest FILE`."
            ), None
        suffix = "." + match.group(1).lower() + (".gz" if match.group(2) else "")
        last = [0.0]

        def on_progress(read: int, total: int | None) -> None:
            self.slot.read = read
            now = time.monotonic()
            if now - last[0] >= 0.2 or read == total:
                last[0] = now
                progress((read, total), desc="Indexing papers", unit="papers")

        before = self.assistant.count()
        with uploads.private_copy(source, suffix) as stored:
            progress(0, desc="Reading the file")
            # Messages and skipped-record locations name the uploaded file, never the server's copy of it.
            try:
                report = self.assistant.ingest([stored], on_progress=on_progress, limits=self.limits)
            except CorpusTooLarge as exc:
                return render.upload_error(self._too_large(exc, shown, self.assistant.count() - before)), None
            except StoreError as exc:
                return render.upload_error(self.public_message(exc)), None
            except RagError as exc:
                return render.upload_error(self.public_message(RagError(str(exc).replace(str(stored), shown)))), None
            except Exception as exc:
                log.exception("ingest of an upload failed")
                return render.upload_error(
                    f"Indexing stopped ({type(exc).__name__}). What was read so far is kept; upload the file again to carry on."
                ), None
            for skipped in report.skipped:
                skipped.location = skipped.location.replace(str(stored), shown)
            report.errors = [self.public_message(RagError(e.replace(str(stored), shown))) for e in report.errors]
        return render.ingest_report(report, shown, self.assistant.count()), None

    def _too_large(self, exc: CorpusTooLarge, shown: str, kept: int) -> str:
        ui = self.settings.ui
        if exc.kind == "bytes":
            what = f"unpacks to more than {ui.max_upload_unpacked_mb:,} MB, the most an upload may unpack to (RAG_UI_MAX_UPLOAD_UNPACKED_MB)"
        else:
            what = f"holds more than {ui.max_upload_records:,} records, the most one upload may hold (RAG_UI_MAX_UPLOAD_RECORDS)"
        done = f"The {kept:,} papers indexed before the limit was reached are kept." if kept > 0 else "Nothing from it was indexed."
        return f"“{shown}” {what}. {done} Larger corpora go in with `rag ingest FILE` on the server."

    # --- corpus picture and filters ---------------------------------------------------------------------

    def filter_views(self):
        """The date and category filters, shown only where the corpus has dates and categories."""
        facets = self.assistant.corpus_facets()  # metadata only: quick, unlike the map itself
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

    def map_views(self, colour: str):
        """The corpus map (computed once per corpus change, in the background after start-up)."""
        import pandas as pd

        try:
            cmap = self.assistant.corpus_map()
        except Exception as exc:
            log.exception("drawing the corpus map failed")
            return gr.ScatterPlot(value=None), f"The map could not be drawn ({type(exc).__name__}); the details are in the server log.", gr.update()
        group = "category" if colour == "category" and cmap.with_categories else "topic"
        x, y = f"{cmap.method or 'map'} 1", f"{cmap.method or 'map'} 2"  # the coordinates mean nothing else
        # The same data whichever the colouring, both groupings in it: switching then changes only which column
        # colours the points. Sending other columns with the new colour made Gradio's plot redraw with its old
        # data, where that column is missing: every point uncoloured, the legend one "undefined".
        frame = pd.DataFrame(
            [{x: round(p.x, 2), y: round(p.y, 2), "title": p.title, "topic": p.topic, "category": p.category,
              "date": p.date or "–"} for p in cmap.points],
            columns=[x, y, "title", "topic", "category", "date"],
        )
        if cmap.total == 0:
            caption = "No papers are indexed yet: add a corpus file in the Papers view."
        else:
            sample = f"a random sample of {len(cmap.points):,} of the {cmap.total:,} papers" if cmap.sampled else f"all {cmap.total:,} papers"
            colour_note = "their first arXiv category" if group == "category" else "topic clusters (k-means), named by their most typical title words"
            caption = (
                f"{sample}, placed by {cmap.method} of their {self.embedder} embeddings: papers close together are about similar things. "
                f"Colour: {colour_note}. Hover a point for its title."
            )
        plot = gr.ScatterPlot(
            value=frame, x=x, y=y, color=group, tooltip=["title", group, "date"],
            color_title="Category" if group == "category" else "Topic",
        )
        colour_choices = [("Topic", "topic")] + ([("Category", "category")] if cmap.with_categories else [])
        return plot, caption, gr.update(choices=colour_choices, value=group, visible=len(colour_choices) > 1)
