"""Exports and feedback from the command line, as a user runs them: `rag ask --format`, the thumbs of `rag chat`,
then `rag feedback list | export | delete`, the export checked by eval/check_questions.py and scored by `rag eval`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rag import Assistant, Settings, UnknownAnswer
from rag.types import Answer
from tests.fixtures.files import BUNDLED, DATA, EVAL

S5 = "What average accuracy does the S5-PTD model reach on the Long-Range Arena benchmark?"
S5_TITLE = "Robustifying State-space Models for Long Sequences via Approximate Diagonalization"
OFF_TOPIC = "What is the boiling point of tungsten at the summit of Everest?"


@pytest.mark.slow
def test_ask_prints_the_answer_as_markdown_bibtex_or_json(cli, tmp_path):
    assert cli("ingest", str(DATA / "export_papers.jsonl")).returncode == 0
    question = "Which papers here study optimal transport?"
    markdown = cli("ask", question, "--format", "markdown")
    assert markdown.returncode == 0, markdown.stderr
    assert markdown.stdout.startswith(f"## {question}\n") and "**References**" in markdown.stdout
    assert "Jörg Müller and Ana Ruiz (2024). <https://arxiv.org/abs/2401.00001>" in markdown.stdout
    bib = cli("ask", question, "--format", "bibtex")
    assert bib.stdout.startswith("@misc{") and "archivePrefix = {arXiv}" in bib.stdout
    assert "@misc{muller2024lighta," in bib.stdout and "@misc{muller2024lightb," in bib.stdout  # same author and year, two keys
    as_json = json.loads(cli("ask", question, "--format", "json").stdout)
    assert as_json == json.loads(cli("ask", question, "--json").stdout) | {"id": as_json["id"]}  # --json still works
    assert Answer.model_validate(as_json).citations
    # That answer came from another process: an assistant over the same index didn't give it, and says so.
    here = Assistant(Settings.test_profile(tmp_path / "home"))
    try:
        with pytest.raises(UnknownAnswer, match="did not give that answer.*Ask the question again"):
            here.feedback(Answer.model_validate(as_json), +1)
        assert here.feedback_store.count() == 0
    finally:
        here.close()
    nothing = cli("ask", OFF_TOPIC, "--format", "bibtex")
    assert nothing.returncode == 0 and nothing.stdout == "" and "Nothing is cited" in nothing.stderr
    wrong = cli("ask", question, "--format", "pdf")
    assert wrong.returncode == 2 and "invalid choice: 'pdf'" in wrong.stderr


@pytest.mark.slow
def test_feedback_from_the_chat_becomes_questions_that_rag_eval_scores(cli, tmp_path):
    assert cli("ingest", str(BUNDLED)).returncode == 0
    chat = cli("chat", input="\n".join([
        "/up",  # nothing to rate yet
        S5, "/wrong 4", "/up",
        OFF_TOPIC, "/missing No such paper at all", "/missing Light Schrödinger Bridge", "/down it is about this one",
        f"/save {tmp_path / 'conversation.md'}",
        "/quit",
    ]) + "\n")
    assert chat.returncode == 0, chat.stderr
    assert "There is no answer to give feedback on yet." in chat.stdout
    assert "The answer cites [1]; it has no [4]. Mark only numbers the answer shows." in chat.stdout
    assert "Feedback #1 stored (thumbs up)" in chat.stdout
    assert "No indexed paper has the id or title 'No such paper at all'" in chat.stdout
    assert chat.stdout.count("Feedback #2 stored (thumbs down)") == 2  # the details update the same feedback
    conversation = (tmp_path / "conversation.md").read_text(encoding="utf-8")
    assert conversation.startswith("# Conversation\n\n## " + S5) and f"1. **{S5_TITLE}**." in conversation

    listed = cli("feedback", "list")
    assert listed.returncode == 0 and "2 feedback stored in" in listed.stdout
    assert "#1" in listed.stdout and "up" in listed.stdout and "answers it: Light Schrödinger Bridge" in listed.stdout
    assert "note: it is about this one" in listed.stdout
    first = cli("feedback", "list", "--limit", "1").stdout
    assert "2 feedback stored in" in first and "(the first 1 shown)" in first and "#2" not in first
    rows = json.loads(cli("feedback", "list", "--json").stdout)
    assert [r["rating"] for r in rows] == [1, -1] and rows[1]["history"][0] == {"role": "user", "content": S5}

    out = tmp_path / "feedback.jsonl"
    export = cli("feedback", "export", "--out", str(out))
    assert export.returncode == 0 and "Wrote 2 questions from 2 feedback" in export.stdout, export.stdout
    questions = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [q["relevant_titles"] for q in questions] == [[S5_TITLE], ["Light Schrödinger Bridge"]]
    assert [q["type"] for q in questions] == ["fact", "followup"]
    check = subprocess.run([sys.executable, str(EVAL / "check_questions.py"), str(out), "--partial"], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout

    scored = cli("eval", "--questions", str(out), "--out", str(tmp_path / "results"), "--retrievers", "bm25,hybrid")
    assert scored.returncode == 0, scored.stderr
    report = json.loads((tmp_path / "results" / "report.json").read_text(encoding="utf-8"))
    assert report["problems"] == [] and [q["id"] for q in report["questions"]] == ["feedback-1", "feedback-2"]
    s5 = report["questions"][0]  # the thumbs-up answer, asked again: its paper cited, its figure there
    assert s5["cited"] == [S5_TITLE] and s5["fact_coverage"] == 1.0 and s5["citation_recall"] == 1.0

    assert "Deleted feedback #1" in cli("feedback", "delete", "1").stdout
    again = cli("feedback", "delete", "1")
    assert again.returncode == 2 and again.stderr.strip() == "error: There is no feedback #1; `rag feedback list` shows the ids there are."
    assert "1 feedback stored" in cli("feedback", "list").stdout
