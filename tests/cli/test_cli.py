"""The `rag` command line, run as a user would (in a subprocess), on a small corpus."""

from __future__ import annotations

import json

import pytest

from tests.fixtures.files import ARXIV_SAMPLE, HF_DAILY_SAMPLE, write

# `cli` (tests/fixtures/processes.py): `python -m rag.cli` in a subprocess over a fresh home, hashing embedder.


@pytest.mark.slow
def test_ingest_ask_papers(cli, tmp_path):
    bad = write(tmp_path / "bad.jsonl", '{"title": "x"}\n{oops\n')
    done = cli("ingest", str(ARXIV_SAMPLE), str(HF_DAILY_SAMPLE), str(bad))
    assert done.returncode == 0, done.stderr
    assert "8 added, 0 updated, 0 unchanged, 2 skipped" in done.stdout
    assert f"skipped {bad}:1: no abstract" in done.stdout
    assert f"skipped {bad}:2: invalid JSON" in done.stdout

    again = cli("ingest", str(ARXIV_SAMPLE))
    assert "0 added, 0 updated, 5 unchanged" in again.stdout

    listed = cli("papers", "--json")
    papers = json.loads(listed.stdout)
    assert len(papers) == 8 and {"paper_id", "title", "abstract"} <= set(papers[0])

    asked = cli("ask", "--json", "What is DocLLM, the layout-aware generative language model?")
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert {"text", "citations", "refused"} <= set(answer)
    assert answer["citations"][0]["paper_id"] == "2401.00908"

    plain = cli("ask", "What is DocLLM, the layout-aware generative language model?")
    assert "Sources:" in plain.stdout and "[1] DocLLM" in plain.stdout


def test_errors_are_messages_not_traces(cli, tmp_path):
    empty = cli("ask", "   ")
    assert empty.returncode == 2
    assert "error: Please type a question" in empty.stderr and "Traceback" not in empty.stderr
    unknown = cli("ingest", str(write(tmp_path / "x.bin", "hello there\nno format\n")))
    assert unknown.returncode == 2
    assert "unknown corpus format" in unknown.stderr and "Traceback" not in unknown.stderr
    missing = cli("ingest", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_chat_keeps_the_conversation(cli):
    cli("ingest", str(ARXIV_SAMPLE))
    session = cli("chat", input="What does the pluralism paper in LLMs evaluate?\nWhat dataset did they use?\n/quit\n")
    assert session.returncode == 0, session.stderr
    assert session.stdout.count("assistant>") == 2
    assert "Sources:" in session.stdout
