"""The chat's thumbs up and down, and the form a thumbs-down opens: a note, a tick per citation whose source
doesn't say that, and a paper that answers it.

Feedback is taken only on the answers of the session it comes from: each session's answers are kept in its
own `gr.State` (chat message index -> `Answer`), and a rating names a message of that chat, never an answer
id. A session can't reach another's answers, whatever index it sends. `Assistant.feedback` then checks that
the answer is one it gave. One row per answer: a thumbs-down is stored at once, and the form's details
update that row; taking a thumb back removes it.
"""

from __future__ import annotations

import logging

import gradio as gr

from rag import Answer, Assistant, RagError
from ui import render

log = logging.getLogger(__name__)

__all__ = ["FeedbackHandlers"]

NOT_AN_ANSWER = "Only answers can be rated: this message is not one (an error, or your own question)."


class FeedbackHandlers:
    """``public_message``: what a web client may be told of an error (`ui.handlers.Handlers.public_message`)."""

    def __init__(self, assistant: Assistant, public_message) -> None:
        self.assistant = assistant
        self.public_message = public_message

    @staticmethod
    def _answer(answers: dict | None, index) -> Answer | None:
        if isinstance(index, (list, tuple)):  # a two-part index names a part of a message: still that message
            index = index[0] if index else None
        if isinstance(index, bool) or not isinstance(index, int):
            return None
        found = (answers or {}).get(index)
        return found if isinstance(found, Answer) else None

    def _closed(self, status: str, ok: bool = True):
        return gr.update(visible=False), gr.update(), gr.update(), gr.update(), gr.update(), render.feedback_status(status, ok), None

    def rate(self, answers: dict, data: gr.LikeData):
        """A thumb on a message of this session's chat: stored at once; a thumbs-down opens the form.

        Returns the form (shown or not), its heading, the citations to tick, the note, the paper, the status
        line, and the message index the form is about (the session's pending feedback)."""
        answer = self._answer(answers, data.index)
        if answer is None:
            return self._closed(NOT_AN_ANSWER, ok=False)
        try:
            if data.liked is True:
                self.assistant.feedback(answer, +1)
                return self._closed("Thanks: your thumbs-up is saved on this server.")
            if data.liked is False:
                self.assistant.feedback(answer, -1)
            else:  # the thumb taken back
                self.assistant.feedback_store.delete_answer(answer.id)
                return self._closed("Your rating of that answer is removed.")
        except RagError as exc:
            return self._closed(self.public_message(exc), ok=False)
        except Exception as exc:
            log.exception("storing feedback failed")
            return self._closed(f"The feedback could not be saved ({type(exc).__name__}); the details are in the server log.", ok=False)
        choices = [(f"[{c.number}] {c.title}", c.number) for c in answer.citations]
        return (
            gr.update(visible=True),
            render.feedback_heading(answer.question),
            gr.update(choices=choices, value=[], visible=bool(choices)),
            gr.update(value=""),
            gr.update(value=""),
            render.feedback_status("Thumbs-down saved. Tell us what was wrong, if you like, and send it."),
            data.index if isinstance(data.index, int) else None,
        )

    def send(self, pending, answers: dict, wrong: list | None, note: str, paper: str):
        """The thumbs-down form sent: its details stored on the row of that answer. Returns the form's
        visibility, the status line and the pending index (cleared when stored)."""
        answer = self._answer(answers, pending)
        if answer is None:
            return gr.update(visible=False), render.feedback_status("Give an answer a thumbs-down first.", ok=False), None
        try:
            self.assistant.feedback(answer, -1, note or "", list(wrong or []), (paper or "").strip() or None)
        except RagError as exc:  # a paper that isn't indexed, a note too long: the form stays to fix it
            return gr.update(visible=True), render.feedback_status(self.public_message(exc), ok=False), pending
        except Exception as exc:
            log.exception("storing feedback failed")
            message = f"The feedback could not be saved ({type(exc).__name__}); the details are in the server log."
            return gr.update(visible=True), render.feedback_status(message, ok=False), pending
        return gr.update(visible=False), render.feedback_status("Thanks: your feedback is saved on this server."), None
