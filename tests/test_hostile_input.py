"""Hostile input, property-based: any question ends in an answer or a clear message; any corpus file ends
in papers plus located skip reports or one clear error, and never loses what is already indexed."""

from __future__ import annotations

import gzip
import json
import string

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rag import Answer, Assistant, RagError, Settings
from rag.corpus import ReadLimits, read_corpus, readers
from rag.errors import CorpusFormatError, CorpusTooLarge
from rag.text.instructions import split_instructions
from rag.types import Paper, Skipped

from tests.fixtures.files import BUNDLED, INJECTED, write

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


# --- more of the question path: every code point, megabytes, histories of any shape ---------------------

ANY_CODE_POINT = st.characters(codec=None, exclude_categories=())  # lone surrogates and private use too
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=8,
)
TURNS = st.one_of(
    st.none(),
    JSONISH,
    st.lists(
        st.one_of(
            JSONISH,
            st.fixed_dictionaries(
                {"role": st.sampled_from(["user", "assistant", "system", 3]), "content": st.text(alphabet=ANY_CODE_POINT, max_size=300) | JSONISH},
                optional={"paper_ids": JSONISH | st.lists(st.text(max_size=30), max_size=3)},
            ),
        ),
        max_size=6,
    ),
)


def _answer_or_clear_message(assistant, question, history=None):
    try:
        answer = assistant.ask(question, history)
    except RagError as exc:
        assert str(exc) and "Traceback" not in str(exc)
        return None
    assert isinstance(answer, Answer) and answer.text
    assert answer.refused or answer.citations
    json.loads(answer.to_json())
    return answer


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    question=st.one_of(st.text(alphabet=ANY_CODE_POINT, max_size=300), st.sampled_from(["What do they propose?", "And its results?", "it"])),
    history=TURNS,
)
def test_any_question_with_any_history_ends_in_an_answer_or_a_clear_message(small_assistant, question, history):
    _answer_or_clear_message(small_assistant, question, history)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@example(unit="\\(")  # unclosed math openers: cleaning a megabyte of them once took minutes (quadratic)
@example(unit="$\\[")
@given(
    unit=st.one_of(
        st.text(alphabet=ANY_CODE_POINT, min_size=1, max_size=40),
        st.text(alphabet=string.punctuation, min_size=1, max_size=10),
        st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=31), min_size=1, max_size=10),
    )
)
def test_megabyte_questions_and_histories_of_anything_end_clearly(small_assistant, unit):
    huge = (unit * (1_000_000 // len(unit) + 1))[:1_000_000]
    answer = _answer_or_clear_message(small_assistant, huge)
    if answer is not None:
        assert any("only the first 2,000" in note for note in answer.notes)
    # A megabyte turn in the history is cut like a question, never searched whole.
    history = [{"role": "user", "content": huge}, {"role": "assistant", "content": huge, "paper_ids": [huge]}]
    _answer_or_clear_message(small_assistant, "And what do they propose?", history)


def test_a_history_that_is_not_a_list_of_turns_is_a_clear_message(small_assistant):
    for history in [True, 5, "user: hi", {"role": "user", "content": "hi"}]:
        with pytest.raises(RagError, match="list of turns"):
            small_assistant.ask("What do they propose?", history)
    # Malformed turns inside a list are passed over; paper ids of the wrong type are ignored.
    answer = small_assistant.ask("What do they propose?", [None, 3, {"role": "assistant", "content": "x", "paper_ids": 7}])
    assert isinstance(answer, Answer)


def test_lone_surrogates_in_a_question_or_history_still_give_a_serialisable_answer(small_assistant):
    # What hypothesis found: a question holding "\ud800" (JSON can carry one) made an Answer that could not
    # be serialised, so the API failed after answering.
    for question, history in [("0\ud800", None), ("quantization \udcff models?", None),
                              ("And what do they propose?", [{"role": "user", "content": "state-space models \ud800"},
                                                             {"role": "assistant", "content": "S5 \udfff [1]"}])]:
        answer = small_assistant.ask(question, history)
        json.loads(answer.to_json())
        assert "\ud800" not in answer.question


# --- more corpus fuzz: bad bytes by line, duplicates across files ---------------------------------------


def test_invalid_utf8_lines_are_skipped_by_line_and_the_rest_is_read(tmp_path, fast_assistant):
    fast_assistant.ingest([BUNDLED])
    before = {p.paper_id: p for p in fast_assistant.papers(limit=100)}
    good = json.dumps({"id": "ok-1", "title": "Readable Record", "abstract": "This record reads fine."}).encode()
    lines = [
        good,
        b'{"id": "bad-1", "title": "Latin-1 caf\xe9", "abstract": "A byte that is not UTF-8."}',
        json.dumps({"id": "bad-2", "title": "Escaped \ud800 surrogate", "abstract": "JSON can spell invalid text."}).encode(),
        b"\xff\xfe\xfd not even JSON",
        json.dumps({"id": "ok-2", "title": "After The Bad Lines", "abstract": "Reading carries on past them."}).encode(),
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    page = tmp_path / "page.txt"
    page.write_bytes(
        b"A Fine Page Title\n" + b"An abstract long enough to count as an abstract on a page of titles and abstracts, " * 3 + b"\n"
        b"Broken \xc3 Title\n" + b"Another abstract that is long enough to be read as the abstract of a paper here, " * 3 + b"\n"
    )
    report = fast_assistant.ingest([path, page])
    where = {s.location: s.reason for s in report.skipped}
    assert set(where) == {f"{path}:2", f"{path}:3", f"{path}:4", f"{page}:3"}
    assert "invalid UTF-8" in where[f"{path}:2"] and "invalid UTF-8" in where[f"{path}:3"] and "invalid UTF-8" in where[f"{page}:3"]
    assert "invalid JSON" in where[f"{path}:4"]
    assert report.added == 3  # ok-1, ok-2 and the fine page paper
    assert {p.paper_id: p for p in fast_assistant.papers(limit=100)}.items() >= before.items()


def test_a_file_in_another_encoding_is_refused_whole_with_a_hint(tmp_path, fast_assistant):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(("\n".join(json.dumps({"title": f"Caf\u00e9 {i} \u00e0 la cr\u00e8me", "abstract": "\u00e9t\u00e9 " * 20}, ensure_ascii=False) for i in range(50))).encode("latin-1"))
    with pytest.raises(CorpusFormatError, match="not UTF-8 text.*iconv"):
        fast_assistant.ingest([path])
    assert fast_assistant.count() == 0


def test_a_changed_duplicate_in_a_later_file_updates_and_an_in_file_one_is_reported(tmp_path, fast_assistant):
    first = write(tmp_path / "a.jsonl", json.dumps({"id": "2401.00002", "title": "Versioned", "abstract": "Version one of the text."}) + "\n")
    fast_assistant.ingest([first])
    both = write(
        tmp_path / "b.jsonl",
        json.dumps({"id": "2401.00002", "title": "Versioned", "abstract": "Version two of the text."}) + "\n"
        + json.dumps({"id": "2401.00002", "title": "Versioned", "abstract": "Version three, same run."}) + "\n",
    )
    report = fast_assistant.ingest([both])
    assert report.updated == 1 and [s.location for s in report.skipped] == [f"{both}:2"]
    assert "duplicate id 2401.00002 with different text; kept the record at " + f"{both}:1" in report.skipped[0].reason
    assert fast_assistant.paper("2401.00002").abstract == "Version two of the text."
    assert fast_assistant.store.count_chunks() == 1  # the old version's chunks went with it


# --- decompression bombs and repeated records -----------------------------------------------------------

REPEATED = json.dumps({"id": "2401.00003", "title": "A Paper That Repeats", "abstract": "The same abstract, again and again."}) + "\n"


def gzip_of(path, text: str, times: int):
    """``text`` repeated ``times`` times, gzipped to ``path`` (a few KB for megabytes of repeats)."""
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for _ in range(times // 1000):
            handle.write(text * 1000)
    return path


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv"])
def test_a_decompression_bomb_is_refused_at_the_record_limit(tmp_path, fast_assistant, fmt):
    """200,000 repeated records in a 20 KB .gz: refused at the limit, never read to the end."""
    fast_assistant.ingest([BUNDLED])
    before = fast_assistant.count()
    record = {"id": "2401.00003", "title": "A Paper That Repeats", "abstract": "The same abstract, again and again."}
    if fmt == "jsonl":
        bomb = gzip_of(tmp_path / "bomb.jsonl.gz", REPEATED, 200_000)
    elif fmt == "csv":
        bomb = tmp_path / "bomb.csv.gz"
        with gzip.open(bomb, "wt", encoding="utf-8") as handle:
            handle.write("id,title,abstract\n" + "2401.00003,A Paper That Repeats,The same abstract again.\n" * 200_000)
    else:
        bomb = tmp_path / "bomb.json.gz"
        with gzip.open(bomb, "wt", encoding="utf-8") as handle:
            handle.write("[" + (json.dumps(record) + ",\n") * 199_999 + json.dumps(record) + "]")
    assert bomb.stat().st_size < 100_000
    read: list[int] = []
    with pytest.raises(CorpusTooLarge, match="holds more than 1,000 records") as info:
        fast_assistant.ingest([bomb], limits=ReadLimits(max_bytes=64 * 2**20, max_records=1000), on_progress=lambda n, _: read.append(n))
    assert info.value.kind == "records" and info.value.limit == 1000
    assert max(read, default=0) <= 1001  # stopped at the limit, not after 200,000
    # JSON Lines is counted before anything is written; the others stop as they reach the limit, keeping
    # what was written before it (here at most the one paper they repeat).
    assert fast_assistant.count() == before if fmt == "jsonl" else before <= fast_assistant.count() <= before + 1


def test_a_file_that_unpacks_past_the_byte_limit_is_refused_before_anything_is_written(tmp_path, fast_assistant):
    long_record = json.dumps({"title": "Long", "abstract": "word " * 2000}) + "\n"  # 10 KB, unique ids from titles
    bomb = gzip_of(tmp_path / "wide.jsonl.gz", long_record, 1000)  # 10 MB unpacked
    for name in ("wide.jsonl.gz", "wide.json.gz", "wide.txt.gz"):  # any format: the bytes are counted first
        target = bomb if name == "wide.jsonl.gz" else bomb.rename(tmp_path / name)
        bomb = target
        with pytest.raises(CorpusTooLarge, match=r"unpacks to more than 1 MB") as info:
            fast_assistant.ingest([target], limits=ReadLimits(max_bytes=2**20, max_records=100_000))
        assert info.value.kind == "bytes"
    assert fast_assistant.count() == 0


def test_records_repeated_verbatim_are_read_and_hashed_once(tmp_path, fast_assistant, monkeypatch):
    """A file of repeats costs next to nothing per repeat: not parsed, cleaned, checked or hashed again."""
    other = json.dumps({"id": "2401.00004", "title": "Another Paper", "abstract": "A different abstract."}) + "\n"
    path = write(tmp_path / "repeats.jsonl", (REPEATED * 2500) + (REPEATED + other) * 1250)
    parsed, hashed = [], []
    real_parse, real_hash = readers.paper_or_skip, Paper.content_hash
    monkeypatch.setattr(readers, "paper_or_skip", lambda record, where: parsed.append(where) or real_parse(record, where))
    monkeypatch.setattr(Paper, "content_hash", lambda self: hashed.append(self.paper_id) or real_hash(self))
    report = fast_assistant.ingest([path])
    assert report.added == 2 and report.unchanged == 4998 and not report.skipped
    assert len(parsed) == 2 and len(hashed) == 2
    items = list(read_corpus(path))  # one outcome per line still; a repeat is the same Paper
    assert len(items) == 5000 and items[0] is items[2499] and items[2501] is items[4999]


# --- instructions planted in abstracts ------------------------------------------------------------------


def test_planted_instructions_are_recognised_and_ordinary_sentences_are_not():
    from rag.text.sentences import cached_sentences
    from rag.text.instructions import is_instruction

    for line in INJECTED.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        flagged = [s.text for s in cached_sentences(item["abstract"]) if is_instruction(s.text)]
        assert len(flagged) == 1 and item["planted"] in flagged[0], item["id"]
    ordinary = [p for p in read_corpus(BUNDLED) if isinstance(p, Paper)]
    assert not [s.text for p in ordinary for s in cached_sentences(p.abstract) if is_instruction(s.text)]
    # Papers *about* prompts and jailbreaks are not instructions.
    for sentence in [
        "In this paper, we show that models struggle to determine which class to count based on the given prompt.",
        "We introduce Chain-of-Thought Hijacking, a jailbreak attack on reasoning models.",
        "To demonstrate this, we fine-tune models on a new instruction-following dataset.",
        "Visit our project webpage at https://example.org/project.",
        "We ignore the higher-order terms, as previous work did.",
    ]:
        assert not is_instruction(sentence), sentence


def test_the_extractive_answerer_never_quotes_a_planted_instruction(new_assistant):
    assistant = new_assistant(corpus=[BUNDLED, INJECTED])
    for line in INJECTED.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        for question in (item["question"], item["broad_question"]):
            answer = assistant.ask(question)
            assert item["planted"].casefold() not in answer.text.casefold(), question
            for citation in answer.citations:
                assert item["planted"].casefold() not in citation.text.casefold()
