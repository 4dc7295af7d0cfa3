"""Ingest: reports, idempotence, updates without duplicates, and recovery from a kill -9 half-way."""

from __future__ import annotations

import json

import pytest

from rag import Assistant, Settings
from rag.errors import CorpusFormatError
from rag.index.embedding import HashingEmbedder
from tests.fixtures.assistants import index_state
from tests.fixtures.files import ARXIV_SAMPLE, BUNDLED, synthetic_corpus, write
from tests.fixtures.processes import ingest_killed_at_batch


def test_report_counts_and_reingest_changes_nothing(fast_assistant):
    first = fast_assistant.ingest([BUNDLED])
    assert (first.added, first.updated, first.unchanged, len(first.skipped)) == (67, 0, 0, 0)
    assert first.chunks == fast_assistant.store.count_chunks() > 67
    before = index_state(fast_assistant)
    again = fast_assistant.ingest([BUNDLED])
    assert (again.added, again.updated, again.unchanged, again.chunks) == (0, 0, 67, 0)
    assert index_state(fast_assistant) == before


def test_changed_abstract_replaces_its_chunks(tmp_path, fast_assistant):
    path = synthetic_corpus(tmp_path / "v1.jsonl", 20)
    fast_assistant.ingest([path])
    chunks_before = fast_assistant.store.count_chunks()
    # Paper 3 gets a shorter abstract: its old chunks must all go, none may be doubled.
    records = [json.loads(line) for line in path.read_text().splitlines()]
    records[3]["abstract"] = "A single new sentence about paper 3."
    records[5]["abstract"] = records[5]["abstract"].replace("original", "second")
    write(tmp_path / "v2.jsonl", "\n".join(json.dumps(r) for r in records) + "\n")
    report = fast_assistant.ingest([tmp_path / "v2.jsonl"])
    assert (report.added, report.updated, report.unchanged) == (0, 2, 18)
    chunks = fast_assistant.store.chunks.get(where={"paper_id": "2401.10003"}, include=["documents"])
    assert chunks["documents"] == ["A single new sentence about paper 3."]
    assert fast_assistant.store.count_chunks() == chunks_before - 5
    assert fast_assistant.store.count() == 20 == fast_assistant.lexical.count()
    hits = fast_assistant.retrieve("second form", k=1, retriever="bm25")
    assert hits[0].paper_id == "2401.10005"


def test_bad_records_are_skipped_with_location_and_the_rest_goes_in(tmp_path, fast_assistant):
    path = write(
        tmp_path / "mixed.jsonl",
        "\n".join(
            [
                json.dumps({"title": "Kept one", "abstract": "An abstract that is fine."}),
                "{broken",
                json.dumps({"title": "", "abstract": "no title"}),
                json.dumps({"title": "Kept two", "abstract": "Another fine abstract."}),
            ]
        ),
    )
    report = fast_assistant.ingest([path])
    assert report.added == 2
    assert [s.location for s in report.skipped] == [f"{path}:2", f"{path}:3"]
    assert fast_assistant.count() == 2


def test_duplicate_ids_in_one_run_index_once(tmp_path, fast_assistant):
    # The same arXiv paper from the arXiv dump and from the Hugging Face API shape.
    arxiv = json.loads((ARXIV_SAMPLE).read_text().splitlines()[0])
    hf = {"paper": {"id": arxiv["id"] + "v2", "title": arxiv["title"], "summary": arxiv["abstract"] + " Extra."}}
    a = write(tmp_path / "a.jsonl", json.dumps(arxiv) + "\n")
    b = write(tmp_path / "b.json", json.dumps([hf]))
    report = fast_assistant.ingest([a, b])
    assert report.added == 1
    assert len(report.skipped) == 1 and "duplicate id 2606.13254" in report.skipped[0].reason
    assert fast_assistant.count() == 1


def test_unknown_format_fails_before_anything_is_written(tmp_path, fast_assistant):
    good = synthetic_corpus(tmp_path / "good.jsonl", 3)
    bad = write(tmp_path / "notes.xyz", "free text\nthat is no corpus\n")
    with pytest.raises(CorpusFormatError, match="unknown corpus format"):
        fast_assistant.ingest([good, bad])
    assert fast_assistant.count() == 0


@pytest.mark.parametrize("kill_at_batch", [1, 4])
def test_ingest_killed_half_way_then_rerun_equals_a_clean_run(tmp_path, new_assistant, kill_at_batch):
    corpus = synthetic_corpus(tmp_path / "corpus.jsonl", 300)
    ingest_killed_at_batch(tmp_path / "killed", corpus, kill_at_batch)

    resumed = new_assistant("killed")
    report = resumed.ingest([corpus])
    assert report.added == 300 - 50 * (kill_at_batch - 1)
    assert report.unchanged == 50 * (kill_at_batch - 1)

    clean = new_assistant("clean", corpus=[corpus])
    assert index_state(resumed) == index_state(clean)
    assert resumed.store.count() == 300 and resumed.lexical.count() == 300
    # And the resumed index answers like the clean one.
    assert [h.paper_id for h in resumed.retrieve("method M123-4", k=3)] == [h.paper_id for h in clean.retrieve("method M123-4", k=3)]


def test_bm25_side_catches_up_after_a_crash_between_stores(tmp_path, fast_settings):
    assistant = Assistant(fast_settings)
    corpus = synthetic_corpus(tmp_path / "c.jsonl", 30)

    def crash(*args, **kwargs):
        raise RuntimeError("disk vanished")

    assistant.lexical.upsert = crash  # Chroma gets the batch, BM25 does not
    with pytest.raises(RuntimeError):
        assistant.ingest([corpus])
    assistant.close()
    assert Assistant(fast_settings).store.count() == 30

    reopened = Assistant(fast_settings)
    assert reopened.lexical.dirty
    reopened.ensure_ready()  # reconciles BM25 with Chroma
    assert reopened.lexical.count() == 30 and not reopened.lexical.dirty
    assert reopened.retrieve("method M17-2", k=1, retriever="bm25")[0].paper_id == "2401.10017"


def test_an_index_is_never_searched_with_another_models_vectors(tmp_path):
    from rag.errors import StoreError

    home = tmp_path / "home"
    first = Assistant(Settings.test_profile(home))
    first.ingest([ARXIV_SAMPLE])
    assert first.store.embedder_name == "hashing" and first.store.abstract_vectors
    first.close()

    class OtherModel(HashingEmbedder):
        name = "another-model"

    with pytest.raises(StoreError) as info:
        Assistant(Settings.test_profile(home), embedder=OtherModel())
    assert "'hashing'" in str(info.value) and "'another-model'" in str(info.value) and "RAG_HOME" in str(info.value)
