"""Scale behaviour on small data: a real `rag ingest` killed with SIGKILL mid-run and run again ends in the
index a clean run makes; re-ingesting embeds nothing; the same through a `chroma run` server.

The fast hashing embedder stands in for MiniLM (RAG_EMBEDDING_BACKEND=hashing): what is tested is the
plumbing — ids, counts, the BM25 side — not the vectors' quality.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rag import Assistant, Settings
from rag.index.embedding import HashingEmbedder
from tests.fixtures.assistants import index_state
from tests.fixtures.files import synthetic_corpus
from tests.fixtures.processes import cli_env, ingest_killed_at_batch, kill_ingest_after

PAPERS = 1500  # ~6 batches of 256: enough to land a kill between the first batch and the last


def rag_ingest(env: dict[str, str], *paths: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ingest", "--json", *map(str, paths)],
        env=env, capture_output=True, text=True, timeout=280,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def kill_ingest_mid_run(env: dict[str, str], home: Path, corpus: Path) -> int:
    """Start `rag ingest`, SIGKILL it once some batches are in and before it ends; papers done by then."""
    child = subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "ingest", str(corpus)], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    done = kill_ingest_after(child, home, 256)
    assert 0 < done < PAPERS
    return done


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return synthetic_corpus(tmp_path_factory.mktemp("corpus") / "corpus.jsonl", PAPERS)


@pytest.fixture(scope="module")
def clean_state(tmp_path_factory, corpus):
    """The index an uninterrupted `rag ingest` makes."""
    home = tmp_path_factory.mktemp("clean")
    report = rag_ingest(cli_env(home), corpus)
    assert report["added"] == PAPERS
    assistant = Assistant(Settings.test_profile(home))
    yield index_state(assistant), report
    assistant.close()


class CountingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        self.texts = 0

    def encode(self, texts):
        self.texts += len(texts)
        return super().encode(texts)


@pytest.mark.slow
def test_rag_ingest_killed_mid_run_resumes_to_the_clean_index(tmp_path, corpus, clean_state):
    home = tmp_path / "killed"
    env = cli_env(home)
    done = kill_ingest_mid_run(env, home, corpus)

    resumed = rag_ingest(env, corpus)
    # What was finished before the kill is not embedded again; the rest is.
    assert resumed["unchanged"] >= done and resumed["added"] + resumed["unchanged"] == PAPERS
    assert resumed["added"] < PAPERS

    assistant = Assistant(Settings.test_profile(home))
    hashes, chunk_ids, bm25 = index_state(assistant)
    clean_hashes, clean_chunk_ids, clean_bm25 = clean_state[0]
    assert hashes == clean_hashes and len(hashes) == PAPERS
    assert chunk_ids == clean_chunk_ids and len(chunk_ids) == clean_state[1]["chunks"]
    assert bm25 == clean_bm25 == PAPERS
    assert assistant.store.count_chunks() == len(clean_chunk_ids)  # no duplicates hiding under other ids


@pytest.mark.slow
def test_reingest_embeds_nothing(tmp_path, corpus):
    embedder = CountingEmbedder()
    assistant = Assistant(Settings.test_profile(tmp_path / "home"), embedder=embedder)
    first = assistant.ingest([corpus])
    assert first.added == PAPERS and embedder.texts == first.chunks + PAPERS and first.chunks > PAPERS  # chunks and each abstract
    generation = assistant.store.generation()

    embedder.texts = 0
    again = assistant.ingest([corpus])
    assert (again.added, again.updated, again.unchanged, again.chunks) == (0, 0, PAPERS, 0)
    assert embedder.texts == 0
    # Nothing changed, so other processes sharing the store have nothing to re-check.
    assert assistant.store.generation() == generation


@pytest.mark.slow
def test_daily_update_embeds_only_new_and_changed_papers(tmp_path, corpus):
    embedder = CountingEmbedder()
    assistant = Assistant(Settings.test_profile(tmp_path / "home"), embedder=embedder)
    assistant.ingest([corpus])
    update = synthetic_corpus(tmp_path / "update.jsonl", PAPERS + 10, changed={5, 77})
    embedder.texts = 0
    report = assistant.ingest([update])
    assert (report.added, report.updated, report.unchanged) == (10, 2, PAPERS - 2)
    assert embedder.texts == report.chunks + 12 and report.chunks == 12 * 6  # 12 papers: their chunks and their abstracts
    assert assistant.lexical.count() == PAPERS + 10
    assert assistant.retrieve("paper 77 revised form", k=1, retriever="bm25")[0].paper_id == "2401.10077"
    assistant.close()


@pytest.mark.slow
@pytest.mark.server
def test_kill_and_resume_through_a_chroma_server(tmp_path, corpus, clean_state, chroma_server):
    server = {"RAG_CHROMA_HOST": "127.0.0.1", "RAG_CHROMA_PORT": str(chroma_server), "RAG_CHROMA_COLLECTION": "resume-test"}
    home = tmp_path / "client"
    env = cli_env(home, **server)
    kill_ingest_mid_run(env, home, corpus)
    rag_ingest(env, corpus)
    assert not (home / "chroma").exists()  # everything went to the server

    # Another machine (a fresh home) sees the same index and builds its BM25 side from the server.
    other = Assistant(
        Settings.test_profile(tmp_path / "other", chroma={"host": "127.0.0.1", "port": chroma_server, "collection": "resume-test"})
    )
    other.ensure_ready()
    hashes, chunk_ids, bm25 = index_state(other)
    assert hashes == clean_state[0][0]
    assert chunk_ids == clean_state[0][1]
    assert bm25 == PAPERS
    assert other.retrieve("method M123-4", k=1)[0].paper_id == "2401.10123"


def test_progress_bar_shows_rate_and_time_left_in_a_log(tmp_path):
    corpus = synthetic_corpus(tmp_path / "small.jsonl", 300)
    done = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ingest", "--progress", str(corpus)],
        env=cli_env(tmp_path / "home"), capture_output=True, text=True, timeout=280,
    )
    assert done.returncode == 0, done.stderr
    last = done.stderr.replace("\r", "\n").strip().splitlines()[-1]
    assert "300/300" in last and "papers/s" in last and "<" in last  # elapsed<left, rate
    assert "300 added" in done.stdout


def test_resume_with_a_changed_file_leaves_no_stray_chunks(tmp_path):
    """Killed after a batch's chunks and before its paper records, then resumed on a newer file where
    those papers are shorter: the old run's extra chunks must not survive."""
    old = synthetic_corpus(tmp_path / "old.jsonl", 120)
    home = tmp_path / "killed"
    ingest_killed_at_batch(home, old, 1, timeout=280)
    new = tmp_path / "new.jsonl"
    records = [json.loads(line) for line in old.read_text().splitlines()]
    for record in records[:50]:  # the batch that was cut: one sentence left of six
        record["abstract"] = record["abstract"].split(". ")[0] + "."
    new.write_text("".join(json.dumps(r) + "\n" for r in records))

    resumed = Assistant(Settings.test_profile(home))
    resumed.ingest([new])
    clean = Assistant(Settings.test_profile(tmp_path / "clean"))
    clean.ingest([new])
    assert index_state(resumed) == index_state(clean)
    assert resumed.store.count_chunks() == 50 * 1 + 70 * 6
    assert not resumed.store.ingest_unfinished()


def resident_kb() -> int:
    return int(Path("/proc/self/status").read_text().split("VmRSS:")[1].split()[0])


@pytest.mark.skipif(not Path("/proc/self/status").exists() or not sys.platform.startswith("linux"), reason="reads /proc")
def test_release_freed_memory_hands_freed_heap_back_to_the_os():
    import ctypes

    from rag.ingest.memory import release_freed_memory

    # 200 MB in 4 KB malloc blocks, then every block freed but one in sixteen: the holes can't be given
    # back by free() (the heap's top is still in use), only by malloc_trim.
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    blocks = [libc.malloc(4096) for _ in range(51_200)]
    for block in blocks:
        ctypes.memset(block, 1, 4096)
    kept = blocks[::16]
    for i, block in enumerate(blocks):
        if i % 16:
            libc.free(block)
    before = resident_kb()
    release_freed_memory()
    after = resident_kb()
    for block in kept:
        libc.free(block)
    assert before - after > 100_000, (before, after)  # most of the ~188 MB freed came back


@pytest.mark.slow
def test_an_ingest_hands_freed_memory_back_once_at_its_end(tmp_path, corpus, monkeypatch):
    import rag.ingest.indexer
    import rag.ingest.memory

    calls: list[int] = []
    assistant = Assistant(Settings.test_profile(tmp_path / "home"))
    written = []
    original = rag.ingest.indexer.Indexer._embed_and_write

    def counting(self, batch, report, writer):
        written.append(len(batch))
        return original(self, batch, report, writer)

    monkeypatch.setattr(rag.ingest.indexer.Indexer, "_embed_and_write", counting)
    monkeypatch.setattr(rag.ingest.memory, "release_freed_memory", lambda: calls.append(len(written)))
    report = assistant.ingest([corpus])
    assistant.close()
    assert report.added == PAPERS and len(written) > 1
    assert calls == [len(written)]  # after the last batch, not after each one
