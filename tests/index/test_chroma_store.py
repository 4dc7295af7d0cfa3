"""rag.index.chroma.ChromaStore, embedded in a throwaway home, with hand-made 3-d vectors.

Records are written the way the indexer writes them: chunks ``paper_id::n`` with their span and the
paper's filterable fields, then one paper record (metadata from `paper_metadata`) whose vector is the
abstract's own.
"""

from __future__ import annotations

import numpy as np
import pytest

from rag import Settings
from rag.errors import StoreError
from rag.index.chroma import ChromaStore, StoredChunk, paper_metadata
from rag.index.chunking import paper_of_chunk
from rag.types import Filters, Paper

X, Y, Z = np.eye(3, dtype=np.float32)


def unit(*values: float) -> np.ndarray:
    v = np.asarray(values, dtype=np.float32)
    return v / np.linalg.norm(v)


PAPERS = {
    "p1": Paper(paper_id="p1", title="Sparse routing", abstract="Routing is sparse. Experts are few.", authors=["Ada Lovelace", "Alan Turing"],
                date="2024-03-05", categories=["cs.LG", "cs.CV"], url="https://arxiv.org/abs/p1"),
    "p2": Paper(paper_id="p2", title="Quantum colouring", abstract="Annealers colour graphs.", date="2023-11-20", categories=["quant-ph"]),
    "p3": Paper(paper_id="p3", title="Tidal heating", abstract="Moons heat up. Shells thin. Poles melt."),
}
# Each chunk: (vector, its text, its span in the abstract).
CHUNKS = {
    "p1": [(X, "Routing is sparse.", (0, 18)), (unit(1, 1, 0), "Experts are few.", (19, 35))],
    "p2": [(Y, "Annealers colour graphs.", (0, 24))],
    "p3": [(Z, "Moons heat up.", (0, 14)), (unit(0, 1, 1), "Shells thin.", (15, 27)), (unit(1, 0, 1), "Poles melt.", (28, 39))],
}


def write(store: ChromaStore, pids=tuple(PAPERS), abstracts: dict | None = None) -> None:
    ids, vectors, documents, metadatas = [], [], [], []
    for pid in pids:
        paper = PAPERS[pid]
        base = {"paper_id": pid, "date": paper.date_int, "hash": paper.content_hash()}
        if paper.categories:
            base["categories"] = list(paper.categories)
        for n, (vector, text, (start, end)) in enumerate(CHUNKS[pid]):
            ids.append(f"{pid}::{n}")
            vectors.append(vector)
            documents.append(text)
            metadatas.append({**base, "chunk": n, "start": start, "end": end})
    store.upsert_chunks(ids, np.asarray(vectors), documents, metadatas)
    papers = [PAPERS[p] if not abstracts or p not in abstracts else PAPERS[p].model_copy(update={"abstract": abstracts[p]}) for p in pids]
    store.upsert_papers([p.paper_id for p in papers], np.asarray([CHUNKS[p.paper_id][0][0] for p in papers]),
                        [p.abstract for p in papers], [paper_metadata(p, p.content_hash(), len(CHUNKS[p.paper_id])) for p in papers])


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings.test_profile(tmp_path / "home")


@pytest.fixture
def store(settings) -> ChromaStore:
    return ChromaStore(settings)


@pytest.fixture
def filled(store) -> ChromaStore:
    write(store)
    return store


# --- papers ------------------------------------------------------------------------------------------------


def test_an_empty_store_in_the_home_folder(store, settings):
    assert store.location == str(settings.home / "chroma") and (settings.home / "chroma").is_dir()
    assert store.count() == 0 and store.count_chunks() == 0
    assert store.get_papers(["p1"]) == {} and store.hashes(["p1"]) == {} and store.all_hashes() == {}
    assert list(store.iter_papers()) == [] and store.chunk_vectors_of(["p1"]) == []


def test_papers_come_back_as_they_went_in(filled):
    assert filled.count() == 3 and filled.count_chunks() == 6
    assert filled.get_papers(["p1", "p2", "p3"]) == PAPERS  # authors, date, categories, url: all kept
    assert filled.get_papers(["p2", "nope"]) == {"p2": PAPERS["p2"]}
    assert filled.hashes(["p1", "nope"]) == {"p1": PAPERS["p1"].content_hash()}
    assert filled.all_hashes() == {pid: p.content_hash() for pid, p in PAPERS.items()}


def test_an_upsert_replaces_a_paper_and_never_doubles_it(filled):
    write(filled, ["p2"], abstracts={"p2": "Annealers colour graphs faster."})
    assert filled.count() == 3 and filled.count_chunks() == 6
    assert filled.get_papers(["p2"])["p2"].abstract == "Annealers colour graphs faster."


def test_deleting_chunks_leaves_the_paper_and_other_chunks(filled):
    filled.delete_chunks_of(["p3"])
    assert filled.count() == 3 and filled.count_chunks() == 3
    assert filled.chunk_vectors_of(["p3"]) == [] and len(filled.chunk_vectors_of(["p1", "p2"])) == 3


def test_deleting_papers_takes_their_chunks_with_them(filled):
    filled.delete_papers(["p1", "nope"])
    assert filled.count() == 2 and filled.count_chunks() == 4
    assert filled.get_papers(["p1"]) == {} and filled.chunk_vectors_of(["p1"]) == []
    assert set(filled.all_hashes()) == {"p2", "p3"}


def test_writes_and_reads_go_in_batches_of_the_clients_limit(filled):
    filled.batch_limit = 2  # 3 papers and 6 chunks: two and three round trips
    write(filled)
    assert filled.count() == 3 and filled.count_chunks() == 6
    assert filled.get_papers(list(PAPERS)) == PAPERS
    assert len(filled.chunk_vectors_of(list(PAPERS))) == 6
    filled.delete_papers(["p1", "p2", "p3"])
    assert filled.count() == 0 and filled.count_chunks() == 0


# --- chunks and search -------------------------------------------------------------------------------------


def test_chunk_vectors_of_gives_each_stored_chunk_with_its_span(filled):
    chunks = sorted(filled.chunk_vectors_of(["p3", "p1"]), key=lambda c: c.chunk_id)
    assert [c.chunk_id for c in chunks] == ["p1::0", "p1::1", "p3::0", "p3::1", "p3::2"]
    for chunk in chunks:
        assert isinstance(chunk, StoredChunk) and chunk.vector.dtype == np.float32
        n = int(chunk.chunk_id.split("::")[1])
        vector, text, (start, end) = CHUNKS[chunk.paper_id][n]
        assert np.allclose(chunk.vector, vector, atol=1e-6)
        assert chunk.text == text and (chunk.start, chunk.end) == (start, end)
        assert PAPERS[chunk.paper_id].abstract[chunk.start : chunk.end] == chunk.text


def test_chunk_vectors_of_a_paper_record_without_its_chunk_count_falls_back_to_a_filter(filled):
    meta = paper_metadata(PAPERS["p3"], "h", 3)
    del meta["chunks"]  # as an older index wrote it
    filled.papers.upsert(ids=["p3"], embeddings=[Z.tolist()], documents=[PAPERS["p3"].abstract], metadatas=[meta])
    assert sorted(c.chunk_id for c in filled.chunk_vectors_of(["p3", "p2"])) == ["p2::0", "p3::0", "p3::1", "p3::2"]


def test_chunk_vectors_are_the_stored_vectors_of_every_chunk_of_the_papers_asked_for(filled):
    ids, vectors = filled.chunk_vectors(["p3", "p1", "gone"])
    assert sorted(ids) == ["p1::0", "p1::1", "p3::0", "p3::1", "p3::2"] and len(vectors) == len(ids)
    for cid, vector in zip(ids, vectors):
        paper_id, n = cid.split("::")
        assert vector.dtype == np.float32 and np.allclose(vector, CHUNKS[paper_id][int(n)][0], atol=1e-6)
    assert filled.chunk_vectors([]) == ([], [])


def test_chunk_spans_are_the_texts_and_spans_of_the_chunks_asked_for_that_are_stored(filled):
    spans = filled.chunk_spans(["p3::1", "p1::0", "p1::9"])
    assert sorted(spans) == ["p1::0", "p3::1"]  # p1 has two chunks: p1::9 is not there
    for cid, span in spans.items():
        paper_id, n = cid.split("::")
        _, text, (start, end) = CHUNKS[paper_id][int(n)]
        assert (span.text, span.start, span.end) == (text, start, end)
        assert PAPERS[paper_id].abstract[span.start : span.end] == span.text


def test_nearest_chunks_ranks_by_cosine_similarity(filled):
    matches = filled.nearest_chunks(unit(1, 0.2, 0), 3)
    assert list(matches) == ["p1::0", "p1::1", "p3::2"]
    similarities = list(matches.values())
    assert similarities[0] == pytest.approx(float(X @ unit(1, 0.2, 0)), abs=1e-5)
    assert similarities[0] > similarities[1] > similarities[2]
    assert len(filled.nearest_chunks(X, 100)) == 6  # more than there is: what there is


def test_chunk_search_finds_the_exact_nearest_chunks_of_a_small_corpus_every_time(settings):
    # Chroma's own search width (100) finds ~81% of the 100 nearest chunks at 8k papers, and not the same
    # ones in every process; the configured width (1,000) makes a small corpus's search exact.
    store = ChromaStore(settings)
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(2000, 24)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"p{i // 4}::{i % 4}" for i in range(len(vectors))]
    store.upsert_chunks(ids, vectors, [f"chunk {i}" for i in ids],
                        [{"paper_id": i.split("::")[0], "date": 0, "hash": "h", "start": 0, "end": 5} for i in ids])
    for query in rng.normal(size=(20, 24)).astype(np.float32):
        exact = {ids[i] for i in np.argsort(-(vectors @ (query / np.linalg.norm(query))))[:100]}
        assert set(store.nearest_chunks(query, 100)) == exact


def test_the_search_width_is_set_on_a_store_made_with_another(settings):
    assert ChromaStore(settings).chunks.configuration["hnsw"]["ef_search"] == settings.chroma.ef_search == 1000
    wider = settings.model_copy(update={"chroma": settings.chroma.model_copy(update={"ef_search": 2000})})
    reopened = ChromaStore(wider)
    assert [c.configuration["hnsw"]["ef_search"] for c in (reopened.chunks, reopened.papers)] == [2000, 2000]


class _BusyCollection:
    """A collection whose width Chroma refuses to change ``busy`` times with "database is locked"."""

    name = "abstracts_chunks"

    def __init__(self, busy: int) -> None:
        self.configuration = {"hnsw": {"ef_search": 100}}
        self.busy, self.tries = busy, 0

    def modify(self, configuration):
        self.tries += 1
        if self.tries <= self.busy:
            raise RuntimeError("Database error: error returned from database: (code: 5) database is locked")
        self.configuration = configuration


def test_a_locked_chroma_database_is_waited_for_then_the_store_opens_with_the_width_it_has(caplog):
    from rag.index.chroma_client import set_search_width

    briefly = _BusyCollection(busy=3)
    set_search_width(briefly, 1000, wait=5)
    assert briefly.configuration["hnsw"]["ef_search"] == 1000 and briefly.tries == 4
    stuck = _BusyCollection(busy=10**6)
    set_search_width(stuck, 1000, wait=0.3)
    assert stuck.configuration["hnsw"]["ef_search"] == 100
    assert "Couldn't set the search width of abstracts_chunks to 1000" in caplog.text


def test_nearest_chunks_honours_filters(filled):
    def found(**filters) -> set[str]:
        return {paper_of_chunk(cid) for cid in filled.nearest_chunks(X, 10, Filters(**filters))}

    assert found() == {"p1", "p2", "p3"}
    assert found(date_from="2024") == {"p1"}
    assert found(date_from="2023-11", date_to="2023-11") == {"p2"}
    assert found(categories=["cs.CV"]) == {"p1"}
    assert found(categories=["quant-ph", "cs.LG"]) == {"p1", "p2"}
    assert found(paper_ids=["p3", "p2"]) == {"p2", "p3"}
    assert found(date_from="2023", categories=["cs.LG"], paper_ids=["p1", "p2"]) == {"p1"}
    assert found(date_from="2030") == set()


def test_iter_papers_pages_through_every_paper_once(filled):
    seen = [(paper.paper_id, meta["hash"], vector) for paper, meta, vector in filled.iter_papers(page=2)]
    assert sorted(pid for pid, _, _ in seen) == ["p1", "p2", "p3"]
    assert all(vector is None and h == PAPERS[pid].content_hash() for pid, h, vector in seen)
    with_vectors = {paper.paper_id: vector for paper, _, vector in filled.iter_papers(include_vectors=True, page=1)}
    assert np.allclose(with_vectors["p2"], Y) and np.allclose(with_vectors["p3"], Z)
    dated = [paper.paper_id for paper, _, _ in filled.iter_papers(where={"date": {"$gt": 0}})]
    assert sorted(dated) == ["p1", "p2"]
    assert filled.all_hashes(page=1) == filled.all_hashes()


# --- what the store records about itself ---------------------------------------------------------------------


def test_the_generation_counts_finished_ingests_and_survives_a_reopen(filled, settings):
    assert filled.generation() == 0
    assert filled.bump_generation() == 1 and filled.bump_generation() == 2
    assert filled.generation() == 2
    assert ChromaStore(settings).generation() == 2


def test_an_unfinished_ingest_is_remembered_until_it_is_marked_done(store, settings):
    assert not store.ingest_unfinished()
    store.mark_ingesting(True)
    assert store.ingest_unfinished() and ChromaStore(settings).ingest_unfinished()
    store.mark_ingesting(False)
    assert not store.ingest_unfinished()


def test_an_empty_index_claimed_by_a_model_holds_abstract_vectors(store):
    assert store.embedder_name == "" and not store.abstract_vectors
    store.check_embedder("model-a")  # nothing recorded yet: any model may start it
    store.claim_vectors("model-a")
    assert store.embedder_name == "model-a" and store.abstract_vectors
    store.claim_vectors("model-a")  # again: nothing changes
    assert store.embedder_name == "model-a" and store.abstract_vectors


def test_another_models_vectors_are_refused(store):
    store.claim_vectors("model-a")
    for attempt in (store.check_embedder, store.claim_vectors):
        with pytest.raises(StoreError) as info:
            attempt("model-b")
        message = str(info.value)
        assert "'model-a'" in message and "'model-b'" in message and "RAG_EMBEDDING_BACKEND" in message
    assert store.embedder_name == "model-a"


def test_an_index_written_before_the_record_keeps_its_chunk_mean_vectors(filled):
    filled.claim_vectors("model-a")  # papers were there already, their vectors of unknown making
    assert filled.embedder_name == "model-a" and not filled.abstract_vectors


def test_the_records_about_the_index_keep_each_other(store):
    store.claim_vectors("model-a")
    store.bump_generation()
    assert store.embedder_name == "model-a" and store.abstract_vectors and store.generation() == 1
    store.claim_vectors("model-a")
    assert store.generation() == 1
