"""`rag feedback list|delete|export`, and the feedback commands of `rag chat` (/up, /down, /wrong, /missing, /save).

list, delete and export read the feedback file under RAG_HOME directly: they never open the index, so they
work while `rag ui` is serving it.
"""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path

from pydantic import ValidationError

from rag.errors import RagError
from rag.evaluation.questions import EvalQuestion
from rag.feedback import FEEDBACK_FILE, Feedback, FeedbackStore, feedback_questions
from rag.settings import Settings
from rag.types import Answer, conversation_to_markdown


def _store() -> FeedbackStore:
    return FeedbackStore(Settings().home / FEEDBACK_FILE)


def _cut(text: str, most: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= most else text[: most - 1] + "…"


def describe(row: Feedback) -> list[str]:
    """One stored feedback as lines for a terminal."""
    when = row.updated.replace("T", " ")[:16]
    lines = [f"#{row.id:<4} {when}  {'up  ' if row.rating == 1 else 'down'}  {_cut(row.question)}"]
    answer = row.answer
    if answer.refused:
        lines.append("       answer: the abstracts don't answer this")
    for c in answer.citations:
        flag = "  <- marked wrong" if c.number in row.wrong_citations else ""
        lines.append(f"       [{c.number}] {_cut(c.title, 70)}{flag}")
    if row.missing_paper:
        lines.append(f"       answers it: {_cut(row.missing_paper.title, 70)} [{row.missing_paper.paper_id}]")
    if row.comment:
        lines.append(f"       note: {_cut(row.comment, 100)}")
    if row.history:
        lines.append(f"       (a follow-up: {len(row.history)} earlier turns)")
    return lines


def cmd_list(args: argparse.Namespace) -> int:
    store = _store()
    try:
        rows = store.list(limit=args.limit)
        total = store.count()
    finally:
        store.close()
    if args.json:
        print(json.dumps([r.model_dump(mode="json") for r in rows], indent=2, ensure_ascii=False))
        return 0
    if not rows:
        print(f"No feedback stored yet (in {store.path}). Give some with the thumbs in `rag ui`, /up or /down in "
              "`rag chat`, or Assistant.feedback().")
        return 0
    shown = f" (the first {len(rows)} shown)" if len(rows) < total else ""
    print(f"{total} feedback stored in {store.path}{shown}:")
    for row in rows:
        print("\n".join(describe(row)))
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    store = _store()
    try:
        removed = store.delete(args.id)
    finally:
        store.close()
    print(f"Deleted feedback #{removed.id} on {_cut(removed.question, 70)!r}.")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    store = _store()
    try:
        rows = store.list()
    finally:
        store.close()
    questions, skipped = feedback_questions(rows)
    good = []
    for question in questions:
        try:  # the format `rag eval` reads, checked here rather than found wrong there
            EvalQuestion.model_validate(question)
        except ValidationError as exc:
            skipped.append((int(question["id"].rpartition("-")[2]), f"not a valid question: {exc.errors()[0]['msg']}"))
            continue
        good.append(question)
    out = Path(args.out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in good), encoding="utf-8")
    except OSError as exc:
        raise RagError(f"Can't write {out}: {exc.strerror or exc}. Give --out a file in a writable folder.") from None
    print(f"Wrote {len(good)} question{'s' if len(good) != 1 else ''} from {len(rows)} feedback to {out}.")
    if skipped:
        print(f"Left out {len(skipped)}:")
        for feedback_id, reason in sorted(skipped):
            print(f"  #{feedback_id}: {reason}")
    if good:
        print(f"Score them: rag eval --questions {out} --out eval/feedback-results")
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser("feedback", help="the feedback stored on answers: list, delete, export as eval questions")
    actions = p.add_subparsers(dest="action", required=True)
    q = actions.add_parser("list", help="what was stored")
    q.add_argument("--limit", type=int, default=None, help="at most N rows")
    q.add_argument("--json", action="store_true", help="the rows as JSON, answers and conversations included")
    q.set_defaults(func=cmd_list)
    q = actions.add_parser("delete", help="remove one feedback")
    q.add_argument("id", type=int, help="its number, as `rag feedback list` shows it")
    q.set_defaults(func=cmd_delete)
    q = actions.add_parser("export", help="the feedback as a question set for `rag eval` (eval/README.md)")
    q.add_argument("--out", required=True, metavar="FILE.jsonl")
    q.set_defaults(func=cmd_export)


# --- rag chat ------------------------------------------------------------------------------------------

CHAT_HELP = """/up                 the last answer was right
/down [NOTE]        it was wrong (a note is optional)
/wrong N [N ...]    citations of the last answer whose source doesn't say that (a thumbs-down)
/missing PAPER      a paper (id or title) that answers the last question (a thumbs-down)
/save FILE.md       the conversation so far as Markdown
/clear, /quit"""


class ChatFeedback:
    """The feedback on the last answer of a `rag chat` session, built up by its commands and stored each time."""

    def __init__(self, assistant) -> None:
        self.assistant = assistant
        self.answers: list[Answer] = []
        self.current: dict = {}

    def answered(self, answer: Answer) -> None:
        self.answers.append(answer)
        self.current = {}

    def clear(self) -> None:
        self.answers.clear()
        self.current = {}

    def handle(self, line: str) -> str | None:
        """What a /command says back, or None when ``line`` is not one of these commands."""
        command, _, rest = line.partition(" ")
        rest = rest.strip()
        if command == "/help":
            return CHAT_HELP
        if command == "/save":
            if not rest:
                return "Give a file name: /save conversation.md"
            try:
                Path(rest).expanduser().write_text(conversation_to_markdown(self.answers), encoding="utf-8")
            except OSError as exc:
                return f"Can't write {rest}: {exc.strerror or exc}."
            return f"Saved {len(self.answers)} answers to {rest}."
        if command not in ("/up", "/down", "/wrong", "/missing"):
            return None
        if not self.answers:
            return "There is no answer to give feedback on yet."
        wanted = dict(self.current)
        if command == "/up":
            wanted = {"rating": 1}
        elif command == "/down":
            wanted.update(rating=-1, comment=rest or wanted.get("comment", ""))
        elif command == "/wrong":
            try:
                numbers = [int(n.strip("[],")) for n in shlex.split(rest)]
            except ValueError:
                return "Give citation numbers as the answer shows them: /wrong 2 3"
            wanted.update(rating=-1, wrong_citations=numbers)
        else:
            wanted.update(rating=-1, missing_paper=rest)
        try:
            row = self.assistant.feedback(self.answers[-1], **wanted)
        except RagError as exc:
            return str(exc)
        self.current = wanted  # only what was accepted is built on by the next command
        return f"Feedback #{row.id} stored ({'thumbs up' if row.rating == 1 else 'thumbs down'}); `rag feedback list` shows it."
