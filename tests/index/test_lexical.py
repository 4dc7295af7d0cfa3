"""rag.index.lexical.LexicalIndex: BM25 by hand, updates, filters, and catching up with the Chroma store."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest

from rag import Settings
from rag.index.chroma import ChromaStore, paper_metadata
from rag.index.lexical import LexicalIndex
from rag.types import Filters, Paper

K1, B = 0.9, 0.4  # the index's defaults


def paper(pid: str, abstract: str, title: str = "", **fields) -> Paper:
    return Paper(paper_id=pid, title=title, abstract=abstract, **fields)


def put(index: LexicalIndex, *papers: Paper) -> None:
    index.upsert([(p, p.content_hash()) for p in papers])


@pytest.fixture
def index(tmp_path):
    made = LexicalIndex(tmp_path / "lexical" / "abstracts.sqlite")
    yield made
    made.close()


def idf(n: int, df: int) -> float:
    return math.log1p((n - df + 0.5) / (df + 0.5))


def bm25(tf: int, length: int, avgdl: float, n: int, df: int) -> float:
    return idf(n, df) * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / avgdl))


# --- scoring -------------------------------------------------------------------------------------------------


def test_a_score_is_bm25_worked_out_by_hand(index):
    # Terms after stop words and stemming: d1 [appl, banana], d2 [appl, cherri, cherri].
    put(index, paper("d1", "An apple and a banana."), paper("d2", "The apple with cherries and cherries."))
    avgdl = (2 + 3) / 2
    assert index.search("cherry", 5) == [("d2", pytest.approx(bm25(2, 3, avgdl, 2, 1), rel=1e-5))]
    scores = dict(index.search("apple", 5))
    assert scores == pytest.approx({"d1": bm25(1, 2, avgdl, 2, 2), "d2": bm25(1, 3, avgdl, 2, 2)}, rel=1e-5)
    # A word repeated in the query counts as often as it is repeated.
    assert index.search("cherry cherry", 5)[0][1] == pytest.approx(2 * bm25(2, 3, avgdl, 2, 1), rel=1e-5)


def test_more_occurrences_and_shorter_abstracts_rank_higher(index):
    put(index,
        paper("once", "Quantum error correction with surface codes."),
        paper("twice", "Quantum error correction with quantum codes."),
        paper("long", "Quantum error correction with surface codes, measured on many devices across many labs for many years."))
    assert [pid for pid, _ in index.search("quantum", 3)] == ["twice", "once", "long"]


def test_a_rare_word_weighs_more_than_a_common_one(index):
    put(index, *[paper(f"common-{i}", f"Graph neural networks, variant {i}.") for i in range(5)],
        paper("rare", "Graph neural networks for quokka tracking."))
    assert index.search("quokka network", 1)[0][0] == "rare"
    assert index.idf("quokka") > index.idf("network")
    assert index.idf("quokka") == pytest.approx(idf(6, 1))
    assert index.idf("network") == pytest.approx(idf(6, 6))


def test_an_unseen_term_gets_the_highest_idf(index):
    put(index, paper("a", "Sparse kernels."), paper("b", "Dense kernels."))
    assert index.idf("walrus") == pytest.approx(math.log1p((2 + 0.5) / 0.5))
    assert index.idf("walrus") > index.idf("spars") > index.idf("kernel")


def test_search_returns_the_n_best_positive_scores_in_order(index):
    put(index, *[paper(f"p{i}", "Diffusion " * (i + 1) + "models.") for i in range(6)], paper("other", "Nothing alike."))
    found = index.search("diffusion", 3)
    assert [pid for pid, _ in found] == ["p5", "p4", "p3"]
    assert found[0][1] > found[1][1] > found[2][1] > 0
    assert len(index.search("diffusion", 100)) == 6  # "other" scores 0: not returned
    assert index.search("the of and", 5) == []  # stop words only: no terms
    assert index.search("walrus", 5) == []


def test_words_match_by_stem_and_title_counts(index):
    put(index, paper("a", "We studied the lattices.", title="Spin studies"))
    assert [pid for pid, _ in index.search("study lattice", 5)] == ["a"]
    assert [pid for pid, _ in index.search("spin", 5)] == ["a"]


def test_scores_for_gives_the_named_papers_their_scores_zero_included(index):
    put(index, paper("a", "Tensor networks."), paper("b", "Tensor tensor cores."), paper("c", "Galaxy redshifts."))
    searched = dict(index.search("tensor", 5))
    assert index.scores_for("tensor", ["b", "c", "gone"]) == {"b": pytest.approx(searched["b"]), "c": 0.0}
    assert index.scores_for("tensor", []) == {}


# --- updates -------------------------------------------------------------------------------------------------


def test_an_upsert_replaces_the_papers_terms(index):
    put(index, paper("a", "Protein folding."), paper("b", "Protein design."))
    put(index, paper("a", "Galaxy clusters."))
    assert index.count() == 2
    assert [pid for pid, _ in index.search("protein", 5)] == ["b"]
    assert [pid for pid, _ in index.search("galaxy", 5)] == ["a"]
    assert index.hashes()["a"] == paper("a", "Galaxy clusters.").content_hash()


def test_deleted_papers_are_gone_from_search_and_counts(index):
    put(index, paper("a", "Reward shaping."), paper("b", "Reward models."), paper("c", "Policy gradients."))
    index.delete(["a", "never-there"])
    assert index.count() == 2 and set(index.hashes()) == {"b", "c"}
    assert [pid for pid, _ in index.search("reward", 5)] == ["b"]
    assert index.scores_for("reward", ["a"]) == {}
    index.delete([])
    assert index.count() == 2


def test_the_index_and_its_state_survive_a_reopen(tmp_path):
    path = tmp_path / "lexical" / "abstracts.sqlite"
    first = LexicalIndex(path)
    put(first, paper("a", "Manifold learning."))
    first.mark_dirty()
    first.close()
    again = LexicalIndex(path)
    try:
        assert again.count() == 1 and again.dirty and again.generation == -1
        assert [pid for pid, _ in again.search("manifold", 5)] == ["a"]
        put(again, paper("b", "Manifold sampling."))  # new terms get new ids after the reopened vocabulary
        assert {pid for pid, _ in again.search("manifold sampling", 5)} == {"a", "b"}
        again.mark_clean(7)
        assert not again.dirty and again.generation == 7
    finally:
        again.close()


def test_a_new_index_opened_by_several_processes_at_once_opens_for_all(tmp_path):
    # `rag ui` and `rag sync` started together on a fresh RAG_HOME open the same new file; SQLite refuses the
    # switch to WAL at once rather than waiting, and before it was retried one such opening in ~15 failed.
    for trial in range(40):
        path = tmp_path / f"trial{trial}" / "abstracts.sqlite"
        start = threading.Barrier(8)
        opened: list[LexicalIndex] = []
        errors: list[BaseException] = []

        def open_index() -> None:
            start.wait()
            try:
                opened.append(LexicalIndex(path))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=open_index) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        for index in opened:
            index.close()
        assert not errors and len(opened) == 8, f"trial {trial}: {errors}"


# --- filters -------------------------------------------------------------------------------------------------


def test_search_honours_filters(index):
    put(index,
        paper("old", "Sparse attention.", date="2022-05-01", categories=["cs.CL"]),
        paper("new", "Sparse attention heads.", date="2024-02-10", categories=["cs.LG", "cs.CL"]),
        paper("undated", "Sparse attention maps."))

    def found(**filters) -> set[str]:
        return {pid for pid, _ in index.search("sparse attention", 10, Filters(**filters))}

    assert found() == {"old", "new", "undated"}
    assert found(date_from="2023") == {"new"}
    assert found(date_from="2022-05-01", date_to="2022-05-01") == {"old"}
    assert found(categories=["cs.LG"]) == {"new"}
    assert found(categories=["cs.CL"], paper_ids=["old", "undated"]) == {"old"}
    assert found(paper_ids=["undated"]) == {"undated"}
    assert index.search("sparse attention", 10, Filters()) == index.search("sparse attention", 10)


# --- catching up with Chroma ---------------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path) -> ChromaStore:
    return ChromaStore(Settings.test_profile(tmp_path / "home"))


def store_papers(store: ChromaStore, *papers: Paper) -> None:
    vectors = np.tile(np.asarray([[1.0, 0.0, 0.0]], dtype=np.float32), (len(papers), 1))
    store.upsert_papers([p.paper_id for p in papers], vectors, [p.abstract for p in papers],
                        [paper_metadata(p, p.content_hash(), 1) for p in papers])


def test_sync_with_makes_the_index_hold_exactly_the_stores_papers(index, store):
    kept, changed_old, changed_new = paper("kept", "Causal discovery."), paper("changed", "Kernel methods."), paper("changed", "Lattice gauge theory.")
    stale, missing = paper("stale", "Redshift surveys."), paper("missing", "Token memory.")
    put(index, kept, changed_old, stale)
    store_papers(store, kept, changed_new, missing)

    assert index.sync_with(store) == (2, 1)  # "changed" and "missing" indexed, "stale" removed
    assert index.hashes() == store.all_hashes()
    assert index.search("redshift", 5) == [] and index.search("kernel", 5) == []  # the stale and the old text are gone
    assert [pid for pid, _ in index.search("lattice gauge", 5)] == ["changed"]  # re-tokenised from the new text
    assert [pid for pid, _ in index.search("token memory", 5)] == ["missing"]
    assert not index.dirty and index.generation == store.generation()


def test_sync_with_does_nothing_when_nothing_moved_unless_forced(index, store):
    store_papers(store, paper("a", "Convex bounds."))
    assert index.sync_with(store) == (1, 0)
    index.upsert([(paper("a", "Convex bounds."), "a hash the store does not have")])  # behind Chroma's back
    assert index.sync_with(store) == (0, 0)  # same generation, same count, clean: trusted as it is
    assert index.sync_with(store, force=True) == (1, 0)
    assert index.hashes() == store.all_hashes()


def test_sync_with_runs_after_a_dirty_ingest_or_a_new_generation(index, store):
    store_papers(store, paper("a", "Convex bounds."))
    index.sync_with(store)
    index.upsert([(paper("a", "Convex bounds."), "stale hash")])
    index.mark_dirty()  # an ingest here did not finish
    assert index.sync_with(store) == (1, 0) and not index.dirty

    index.upsert([(paper("a", "Convex bounds."), "stale hash")])
    store.bump_generation()  # another process finished an ingest
    assert index.sync_with(store) == (1, 0) and index.generation == store.generation() == 1


def test_two_processes_writing_one_file_never_share_a_term_id_and_see_each_others_papers(tmp_path, store):
    # A `rag sync` and the chat on one machine over a Chroma server share this file: each connection adds
    # terms the other has not seen, and the chat's recheck takes in what the sync wrote.
    path = tmp_path / "lexical" / "shared.sqlite"
    sync, chat = LexicalIndex(path), LexicalIndex(path)
    try:
        c1, s1 = paper("c1", "Galaxy clusters in the radio sky."), paper("s1", "Quantum spin liquids on kagome lattices.")
        c2, s2 = paper("c2", "Protein folding with diffusion samplers."), paper("s2", "Tokenizer-free transformers read bytes.")
        store_papers(store, c1, s1, c2, s2)  # Chroma has them all (the source of truth `recheck` reconciles with)
        put(chat, c1)
        put(sync, s1)
        put(chat, c2)
        assert [pid for pid, _ in chat.search("kagome lattices", 5)] == ["s1"]
        put(sync, s2)
        assert chat.search("bytes tokenizer", 5) == []  # its matrix is built: not until it looks again
        for index in (chat, sync):
            index.recheck_every = 0
            index.recheck(store)
            assert [pid for pid, _ in index.search("kagome lattices", 5)] == ["s1"]
            assert [pid for pid, _ in index.search("protein diffusion", 5)] == ["c2"]
            assert [pid for pid, _ in index.search("bytes tokenizer", 5)] == ["s2"]
        ids = dict(sync._db.execute("SELECT term, id FROM terms"))
        assert len(set(ids.values())) == len(ids) == len(chat._vocab) == len(sync._vocab)
    finally:
        sync.close()
        chat.close()
