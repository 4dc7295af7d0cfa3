"""Hostile input, property-based: any question ends in an answer or a clear message; any corpus file ends
in papers plus located skip reports or one clear error, and never loses what is already indexed."""

from __future__ import annotations

import gzip
import json
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag import Answer, Assistant, RagError, Settings
from rag.corpus import read_corpus
from rag.errors import CorpusFormatError
from rag.questions import split_instructions
from rag.types import Paper, Skipped

from .conftest import BUNDLED, write

QUESTIONS = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
    st.text(alphabet=string.punctuation + " \t\n", max_size=200),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=31), max_size=50),
    st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=20), st.integers(100, 5000)),
)


@pytest.fixture(scope="module")
def small_assistant(tmp_path_factory):
    assistant = Assistant(Settings.test_profile(tmp_path_factory.mktemp("hostile")))
    assistant.ingest([BUNDLED])
    return assistant


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(question=QUESTIONS)
def test_any_question_ends_in_an_answer_or_a_clear_message(small_assistant, question):
    try:
        answer = small_assistant.ask(question)
    except RagError as exc:
        assert str(exc) and "Traceback" not in str(exc)
        return
    assert isinstance(answer, Answer)
    assert answer.text
    assert answer.refused or answer.citations
    json.loads(answer.to_json())  # always serialisable


def test_megabyte_questions_are_cut_not_crashed(small_assistant):
    for question in ["a" * 1_000_000, "quantization " * 80_000, "é🙂" * 300_000, ("x" * 5000 + ". ") * 200]:
        answer = small_assistant.ask(question)
        assert any("only the first 2,000" in note for note in answer.notes)


@given(st.text(max_size=500))
@settings(max_examples=300, deadline=None)
def test_instruction_splitting_never_loses_the_whole_question(text):
    cleaned, removed = split_instructions(text)
    assert isinstance(cleaned, str)
    if not removed:
        assert cleaned == text
    else:
        assert cleaned.strip()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=2000), suffix=st.sampled_from([".jsonl", ".json", ".csv", ".txt", ".gz", ".dat", ""]))
def test_any_bytes_as_a_corpus_file_read_or_fail_clearly(tmp_path, data, suffix):
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    try:
        items = list(read_corpus(path))
    except CorpusFormatError as exc:
        assert str(path) in str(exc)
        return
    for item in items:
        assert isinstance(item, (Paper, Skipped))
        if isinstance(item, Skipped):
            assert item.location.startswith(str(path)) and item.reason


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    records=st.lists(
        st.one_of(
            st.fixed_dictionaries({"title": st.text(max_size=40), "abstract": st.text(max_size=200)}),
            st.dictionaries(st.sampled_from(["title", "abstract", "id", "authors", "categories", "date"]), st.one_of(st.none(), st.integers(), st.text(max_size=20), st.lists(st.integers(), max_size=3))),
            st.integers(),
            st.lists(st.text(max_size=5), max_size=3),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_records_of_wrong_shapes_and_types_are_reported_by_line(tmp_path, records):
    path = tmp_path / "records.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    items = list(read_corpus(path))
    assert len(items) == sum(1 for r in records)  # one outcome per line, nothing silently dropped
    for item in items:
        if isinstance(item, Skipped):
            line = int(item.location.rsplit(":", 1)[1])
            assert 1 <= line <= len(records)


def test_hostile_files_lose_nothing_already_indexed(tmp_path, fast_assistant):
    fast_assistant.ingest([BUNDLED])
    before = fast_assistant.count()
    title = fast_assistant.papers(limit=1)[0]
    truncated = write(tmp_path / "cut.json", '[{"title": "A", "abstract": "Fine."}, {"title": "B", "abstr')
    wrong_types = write(tmp_path / "types.jsonl", '{"title": ["x"], "abstract": 3}\n{"title": "T", "abstract": {"a": 1}}\n')
    huge = write(tmp_path / "huge.jsonl", json.dumps({"title": "Huge", "abstract": "word " * 400_000}) + "\n")
    dup = write(
        tmp_path / "dup.jsonl",
        json.dumps({"id": "2401.00001", "title": "One", "abstract": "First text."}) + "\n"
        + json.dumps({"id": "2401.00001", "title": "One", "abstract": "Different text."}) + "\n",
    )
    binary = tmp_path / "blob.jsonl.gz"
    binary.write_bytes(gzip.compress(bytes(range(256)) * 10))

    report = fast_assistant.ingest([truncated, wrong_types, huge, dup])
    assert report.added == 2  # "A" and the first "One"
    locations = {s.location.rsplit(":", 1)[0] for s in report.skipped}
    assert locations == {str(truncated), str(wrong_types), str(huge), str(dup)}
    assert any("duplicate id 2401.00001" in s.reason for s in report.skipped)
    assert any("over the" in s.reason for s in report.skipped)
    with pytest.raises(CorpusFormatError):
        fast_assistant.ingest([binary])
    assert fast_assistant.count() == before + 2
    assert fast_assistant.paper(title.paper_id) == title
