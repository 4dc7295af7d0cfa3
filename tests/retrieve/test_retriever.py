"""rag.retrieve.retriever on a small index whose vectors are known by hand.

`Colours` embeds a text as the counts of its colour words on three axes (red, blue, green; "crimson" and
"scarlet" are red, "azure" is blue), so every cosine similarity below can be worked out on paper. The
index: ten red papers (3 red, 1 green: 0.949 to a red query), a deep-red paper found by dense search
but barely by BM25, a quokka paper found by BM25 but not by dense search, and three blue ones.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import rag.retrieve.retriever as retriever_module
from rag import Assistant, Settings
from rag.index.chunking import paper_of_chunk
from rag.index.embedding import Embedder
from rag.types import Filters, Paper

AXES = {"red": 0, "crimson": 0, "scarlet": 0, "blue": 1, "azure": 1, "green": 2}


class Colours(Embedder):
    name = "colours"
    dimensions = 4

    def encode(self, texts):
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                if word in AXES:
                    out[row, AXES[word]] += 1
            if not out[row].any():
                out[row, 3] = 1.0  # no colour at all: a direction of its own
            out[row] /= np.linalg.norm(out[row])
        return out


def paper(pid, title, abstract, date="", categories=()):
    return Paper(paper_id=pid, title=title, abstract=abstract, date=date, categories=list(categories))


REDS = [f"red-{i:02d}" for i in range(1, 11)]
PAPERS = [
    *[paper(pid, f"Study {i:02d}", "Red red red observations through green filters.",
            date=f"{2023 if i <= 5 else 2024}-{(i - 1) % 5 + 1:02d}-10",
            categories=["astro-ph.GA"] if i % 2 else ["physics.optics", "cs.CV"]) for i, pid in enumerate(REDS, start=1)],
    paper("deep-red", "Dusk survey", "Crimson crimson crimson tones over a red sky at dusk, above long quiet hills, wide fields "
          "and slow rivers.", date="2024-06-30", categories=["cs.CV"]),
    paper("quokka", "Island fauna", "A quokka census under blue and red light."),
    *[paper(f"blue-{i}", f"Bay {i}", "Blue azure skies over the bay.", date="2022-03-01") for i in range(1, 4)],
]
RED_QUERY = 1.0  # "red ..." embeds as the pure red axis
REDS_SIMILARITY = 3 / math.sqrt(10)  # (3, 0, 1) against (1, 0, 0)
QUOKKA_SIMILARITY = 1 / math.sqrt(2)  # (1, 1, 0)


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    # Two views, drawn by hand: the papers' own vectors (a third view, on by default) sit out here.
    settings = Settings.test_profile(tmp_path_factory.mktemp("retriever"), retrieval={"candidates": 5, "abstract_weight": 0.0})
    made = Assistant(settings, embedder=Colours())
    made.indexer.ingest_records((p, "test") for p in PAPERS)
    yield made
    made.close()


@pytest.fixture
def fusion_inputs(monkeypatch):
    """What the retriever hands to `fuse_views`: (dense scores, lexical scores, dense weight) of each call."""
    calls = []
    real = retriever_module.fuse_views

    def spy(views, weights, mode="relative_score"):
        calls.append((dict(views["dense"]), dict(views["lexical"]), weights.get("dense", 0.0)))
        return real(views, weights, mode)

    monkeypatch.setattr(retriever_module, "fuse_views", spy)
    return calls


def real_dense(assistant, query: str, pid: str) -> float:
    """A paper's dense score worked out directly: its best chunk's cosine similarity to the query."""
    qvec = assistant.embedder.encode([query])[0]
    return max(float(c.vector @ qvec) for c in assistant.store.chunk_vectors_of([pid]))


def test_the_index_is_as_drawn(assistant):
    assert assistant.store.count() == len(PAPERS) == assistant.lexical.count()
    assert real_dense(assistant, "red", "red-01") == pytest.approx(REDS_SIMILARITY, abs=1e-6)
    assert real_dense(assistant, "red", "deep-red") == pytest.approx(RED_QUERY, abs=1e-6)
    assert real_dense(assistant, "red", "quokka") == pytest.approx(QUOKKA_SIMILARITY, abs=1e-6)


def test_every_candidate_is_scored_on_both_sides_before_fusing(assistant, fusion_inputs):
    query = "red quokka"
    dense_top = {paper_of_chunk(cid) for cid in assistant.store.nearest_chunks(assistant.embedder.encode([query])[0], 10)}
    bm25_top = {pid for pid, _ in assistant.lexical.search(query, 5)}
    # The scene: the quokka paper is out of reach of the dense search (ten better chunks), and the deep-red
    # paper out of BM25's top 5 (one "red" in a long abstract), though each has a real score on that side.
    assert "quokka" not in dense_top and "quokka" in bm25_top
    assert "deep-red" in dense_top and "deep-red" not in bm25_top

    assistant.retriever.retrieve(query, k=5)
    (dense, lexical, weight), = fusion_inputs
    assert weight == assistant.settings.retrieval.dense_weight
    assert set(dense) == set(lexical) >= {"quokka", "deep-red"}
    assert dense["quokka"] == pytest.approx(QUOKKA_SIMILARITY, abs=1e-5)  # its real similarity, not 0
    exact = assistant.lexical.scores_for(query, ["deep-red"])["deep-red"]
    assert lexical["deep-red"] == pytest.approx(exact) and exact > 0  # its real BM25 score, not 0
    for pid in dense:
        assert dense[pid] == pytest.approx(real_dense(assistant, query, pid), abs=1e-5)
        assert lexical[pid] == pytest.approx(assistant.lexical.scores_for(query, [pid])[pid])


def test_a_paper_only_bm25_found_wins_with_its_real_dense_score(assistant):
    hits = assistant.retriever.retrieve("red quokka", k=5, dense_weight=0.3)
    top = hits[0]
    assert top.paper_id == "quokka"
    assert top.dense_score == pytest.approx(QUOKKA_SIMILARITY, abs=1e-5)
    assert top.lexical_score == pytest.approx(assistant.lexical.scores_for("red quokka", ["quokka"])["quokka"], abs=1e-5)
    assert top.chunks and top.chunks[0].text == "A quokka census under blue and red light."
    assert top.abstract == PAPERS[11].abstract and top.chunks[0].score == pytest.approx(QUOKKA_SIMILARITY, abs=1e-5)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_dense_alone_ranks_by_similarity_and_computes_no_bm25(assistant, fusion_inputs):
    hits = assistant.retriever.retrieve("crimson", k=5, retriever="dense")
    assert hits[0].paper_id == "deep-red" and hits[0].dense_score == pytest.approx(1.0, abs=1e-5)
    assert all(h.paper_id in REDS and h.dense_score == pytest.approx(REDS_SIMILARITY, abs=1e-5) for h in hits[1:])
    assert all(h.score == h.dense_score and h.lexical_score == 0.0 for h in hits)
    (_, lexical, weight), = fusion_inputs
    assert weight == 1.0 and lexical == {}  # "crimson" is in an abstract: BM25 was not asked


def test_bm25_alone_ranks_by_bm25_ties_by_id_and_computes_no_dense(assistant, fusion_inputs):
    hits = assistant.retriever.retrieve("red", k=12, retriever="bm25")
    # The ten red papers score the same (same words, same length): in id order, then the two with one "red".
    assert [h.paper_id for h in hits] == [*REDS, "quokka", "deep-red"]
    assert len({h.score for h in hits[:10]}) == 1 and hits[9].score > hits[10].score > hits[11].score > 0
    assert all(h.score == h.lexical_score and h.dense_score == 0.0 for h in hits)
    (dense, _, weight), = fusion_inputs
    assert weight == 0.0 and dense == {}
    assert assistant.retriever.retrieve("walrus", k=5, retriever="bm25") == []  # no paper has the word


def test_hybrid_is_the_default_and_finds_what_either_side_finds(assistant):
    assert assistant.settings.retrieval.mode == "hybrid"
    hybrid = assistant.retriever.retrieve("crimson quokka", k=5, dense_weight=0.3)
    ids = [h.paper_id for h in hybrid]
    assert ids[:2] == ["deep-red", "quokka"]  # one found by its vector, one by its word
    assert all(h.dense_score > 0 and h.lexical_score >= 0 for h in hybrid)


def test_by_default_the_papers_own_vectors_are_a_third_view_scored_for_every_candidate(assistant):
    from rag.retrieve.retriever import Retriever

    defaults = Settings.test_profile(assistant.settings.home, retrieval={"candidates": 5})
    three = Retriever(defaults, assistant.store, assistant.lexical, assistant.embedder)
    assert assistant.store.abstract_vectors
    assert three.weights(None, None) == {"dense": 0.4, "abstract": 0.2, "lexical": pytest.approx(0.4)}
    query = "red quokka"
    hits = three.retrieve(query, k=8)
    qvec = assistant.embedder.encode([query])[0]
    own = assistant.store.paper_vectors([h.paper_id for h in hits])
    for hit in hits:  # each hit's third score is its own vector's cosine, whichever view found it
        assert hit.abstract_score == pytest.approx(float(own[hit.paper_id] @ qvec), abs=1e-5)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    two = assistant.retriever.retrieve(query, k=8)  # the same index with the third view left out
    assert {h.paper_id: h.score for h in two} != {h.paper_id: h.score for h in hits}  # it took part in the scores


# --- filters ----------------------------------------------------------------------------------------------


def ids_of(assistant, query, filters, retriever, k=20):
    return {h.paper_id for h in assistant.retriever.retrieve(query, k=k, filters=filters, retriever=retriever)}


@pytest.mark.parametrize("retriever", ["dense", "bm25", "hybrid"])
def test_date_filters_are_honoured(assistant, retriever):
    in_2024 = ids_of(assistant, "red", Filters(date_from="2024"), retriever)
    assert in_2024 == {*REDS[5:], "deep-red"}  # the quokka paper has no date: a lower bound leaves it out
    up_to_may = ids_of(assistant, "red", Filters(date_from="2024-01", date_to="2024-05"), retriever)
    assert up_to_may == set(REDS[5:])  # "2024-05" reaches the 31st of May, not June
    one_day = ids_of(assistant, "red", Filters(date_from="2023-03-10", date_to="2023-03-10"), retriever)
    assert one_day == {"red-03"}
    up_to_2022 = ids_of(assistant, "red", Filters(date_to="2022"), retriever) - {"quokka"}  # undated: see below
    # The blue papers have no "red": BM25 gives them nothing to rank.
    assert up_to_2022 == (set() if retriever == "bm25" else {"blue-1", "blue-2", "blue-3"})


@pytest.mark.parametrize("retriever", ["dense", "bm25", "hybrid"])
def test_an_undated_paper_is_treated_alike_by_a_lower_and_an_upper_date_bound(assistant, retriever):
    kept_by_lower = "quokka" in ids_of(assistant, "quokka", Filters(date_from="1900"), retriever)
    kept_by_upper = "quokka" in ids_of(assistant, "quokka", Filters(date_to="2100"), retriever)
    assert kept_by_lower == kept_by_upper


@pytest.mark.parametrize("retriever", ["dense", "bm25", "hybrid"])
def test_category_filters_match_any_of_the_categories(assistant, retriever):
    assert ids_of(assistant, "red", Filters(categories=["cs.CV"]), retriever) == {*REDS[1::2], "deep-red"}
    both = ids_of(assistant, "red", Filters(categories=["astro-ph.GA", "cs.CV"]), retriever)
    assert both == {*REDS, "deep-red"}
    assert ids_of(assistant, "red", Filters(categories=["q-bio"]), retriever) == set()


@pytest.mark.parametrize("retriever", ["dense", "bm25", "hybrid"])
def test_paper_id_and_combined_filters(assistant, retriever):
    assert ids_of(assistant, "red", Filters(paper_ids=["red-03", "quokka", "no-such-paper"]), retriever) == {"red-03", "quokka"}
    combined = Filters(date_from="2024", categories=["physics.optics"], paper_ids=["red-06", "red-07", "red-08", "deep-red"])
    assert ids_of(assistant, "red", combined, retriever) == {"red-06", "red-08"}

