"""A damaged embedded index: Chroma crashing or raising on its files ends in a clear message, not a dead process.

The 115k build here left HNSW files that make Chroma 1.5.9 die of SIGSEGV on loading (BENCHMARKS.md). These
tests damage a small index three ways — scrambled neighbour lists (Chroma crashes), a cut link_lists.bin
(what a kill during Chroma's save leaves: Chroma would open it and damage it further) and a cut label map
(Chroma raises) — and run the real `rag ask` on it; then rebuild one with `rag ingest --vectors-from`.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from rag import Assistant, Settings
from rag.errors import StoreError
from rag.index import store_check
from rag.index.store_check import check_embedded_store, torn_segments

from tests.fixtures.files import word_soup_corpus
from tests.fixtures.processes import cli_env, rag_command

NAMES = ["abstracts_chunks", "abstracts_papers"]


@pytest.fixture(scope="module")
def built_home(tmp_path_factory) -> Path:
    """An index with its chunk vectors flushed into HNSW files (Chroma keeps the first ~1,000 in its log)."""
    base = tmp_path_factory.mktemp("damaged")
    home = base / "home"
    assistant = Assistant(Settings.test_profile(home))
    report = assistant.ingest([word_soup_corpus(base / "corpus.jsonl", 300)], progress=False)
    assistant.close()
    assert report.chunks >= 1500
    assert chunk_segment(home).joinpath("data_level0.bin").stat().st_size > 0
    return home


def chunk_segment(home: Path) -> Path:
    """The chunk collection's HNSW folder: the one with a label map and the most elements."""
    folders = [p for p in (home / "chroma").iterdir() if (p / "index_metadata.pickle").is_file()]
    return max(folders, key=lambda p: (p / "data_level0.bin").stat().st_size)


def copy_of(home: Path, tmp_path: Path) -> Path:
    target = tmp_path / "home"
    subprocess.run(["cp", "-a", str(home), str(target)], check=True)
    return target


def contents(home: Path) -> dict[str, str]:
    """A digest of every file; of the SQLite file, of its rows but Chroma's lock bookkeeping (written on any open)."""
    digests = {}
    for path in sorted(home.rglob("*")):
        if path.name == "chroma.sqlite3":
            db = sqlite3.connect(path)
            rows = "\n".join(line for line in db.iterdump() if "acquire_write" not in line)
            db.close()
            digests[str(path.relative_to(home))] = hashlib.sha256(rows.encode()).hexdigest()
        elif path.is_file():
            digests[str(path.relative_to(home))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def scramble_neighbour_lists(home: Path) -> None:
    """Every element claims 65,535 neighbours at level 0: hnswlib reads past its data and Chroma segfaults."""
    folder = chunk_segment(home)
    size_per_element = struct.unpack_from("<Q", (folder / "header.bin").read_bytes(), 4 + 8 * 3)[0]
    data = bytearray((folder / "data_level0.bin").read_bytes())
    for start in range(0, len(data), size_per_element):
        data[start:start + 4] = b"\xff\xff\x00\x00"
    (folder / "data_level0.bin").write_bytes(bytes(data))


def ask(home: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([rag_command(), "ask", "sparse kernel bound"], env=cli_env(home, **env),
                          capture_output=True, text=True, timeout=300)


def test_an_index_that_crashes_chroma_is_refused_with_a_clear_message_and_left_as_it_was(built_home, tmp_path):
    home = copy_of(built_home, tmp_path)
    scramble_neighbour_lists(home)
    # Without the check the process itself dies: this is the failure being guarded against.
    unguarded = ask(home, RAG_CHROMA_CHECK_ON_OPEN="false")
    assert unguarded.returncode < 0, (unguarded.returncode, unguarded.stderr[-500:])

    before = contents(home)
    done = ask(home)
    assert done.returncode > 0, done.stderr[-2000:]  # an error message, not a signal
    assert "is damaged: Chroma crashed (SIGSEGV) loading it" in done.stderr
    assert "Traceback" not in done.stderr
    assert contents(home) == before  # the crashed child changed nothing indexed
    assert not (home / "chroma-checked.json").exists()


def test_a_half_saved_index_is_refused_before_chroma_touches_it(built_home, tmp_path):
    # What a process killed while Chroma rewrote link_lists.bin leaves: the file stops short of its header.
    # Chroma itself would load it and, on its next save, write the file out to gigabytes (chroma#7510).
    home = copy_of(built_home, tmp_path)
    links = chunk_segment(home) / "link_lists.bin"
    os.truncate(links, links.stat().st_size // 2)
    before = contents(home)
    done = ask(home)
    assert done.returncode > 0, done.stderr[-2000:]
    assert "was left half-saved" in done.stderr and "link_lists.bin stops before its" in done.stderr
    assert "Traceback" not in done.stderr
    assert contents(home) == before


def test_a_refused_folder_is_refused_again_in_the_same_process(built_home, tmp_path):
    home = copy_of(built_home, tmp_path)
    links = chunk_segment(home) / "link_lists.bin"
    os.truncate(links, links.stat().st_size // 2)
    for _ in range(2):  # a caller that retries must not get past the check into a crash
        with pytest.raises(StoreError, match="was left half-saved"):
            check_embedded_store(home / "chroma", NAMES, home / "chroma-checked.json", timeout=300)


def test_an_index_chroma_refuses_to_load_says_its_files_look_damaged(built_home, tmp_path):
    home = copy_of(built_home, tmp_path)
    label_map = chunk_segment(home) / "index_metadata.pickle"
    label_map.write_bytes(label_map.read_bytes()[: label_map.stat().st_size // 2])
    done = ask(home)
    assert done.returncode > 0, done.stderr[-2000:]  # an error message, not a signal
    assert "look damaged" in done.stderr and "Traceback" not in done.stderr


def test_a_clean_check_is_remembered_until_the_index_files_change(built_home, tmp_path, monkeypatch):
    home = copy_of(built_home, tmp_path)
    stamp = home / "chroma-checked.json"
    check_embedded_store(home / "chroma", NAMES, stamp, timeout=300)  # a real child process loads it
    assert stamp.is_file()

    runs: list[list[str]] = []

    def fake_run(args, **kwargs):
        runs.append(args)
        return subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr(store_check.subprocess, "run", fake_run)
    store_check._seen.clear()  # as if a new process opened the folder
    check_embedded_store(home / "chroma", NAMES, stamp, timeout=300)
    assert runs == []  # unchanged files: no second load

    store_check._seen.clear()
    data = chunk_segment(home) / "data_level0.bin"
    os.utime(data, ns=(data.stat().st_atime_ns, data.stat().st_mtime_ns + 1_000_000_000))  # as after a flush
    check_embedded_store(home / "chroma", NAMES, stamp, timeout=300)
    assert len(runs) == 1 and str((home / "chroma").resolve()) in runs[0]

    check_embedded_store(home / "chroma", NAMES, stamp, timeout=300)  # the same process: checked once
    assert len(runs) == 1


def test_the_healthy_index_answers_with_the_check_on(built_home, tmp_path):
    home = copy_of(built_home, tmp_path)
    done = ask(home)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "[1]" in done.stdout
    assert (home / "chroma-checked.json").is_file()


def test_the_file_check_passes_intact_segments_and_names_each_kind_of_damage(built_home, tmp_path):
    home = copy_of(built_home, tmp_path)
    assert torn_segments(home / "chroma") == []
    folder = chunk_segment(home)
    # The 115k folder's state: link lists written 5.7 TiB into a sparse file, a hole where they belong.
    os.truncate(folder / "link_lists.bin", 6_250_824_272_712)
    os.truncate(folder / "length.bin", 8)
    problems = torn_segments(home / "chroma")
    assert any("link_lists.bin is 6,250,824,272,712 bytes long but its records end at byte" in p for p in problems)
    assert any("length.bin holds 8 bytes of the" in p for p in problems)


def collection_contents(home: Path) -> dict[str, dict[str, tuple]]:
    import chromadb

    client = chromadb.PersistentClient(path=str(home / "chroma"), settings=chromadb.Settings(anonymized_telemetry=False))
    contents = {}
    for name in NAMES:
        got = client.get_collection(name).get(include=["embeddings", "documents", "metadatas"])
        contents[name] = {
            i: (np.asarray(e, dtype=np.float32), d, m)
            for i, e, d, m in zip(got["ids"], got["embeddings"], got["documents"], got["metadatas"])
        }
    return contents


def ingest_with_vectors_from(old: Path, out: Path, corpus: Path) -> subprocess.CompletedProcess:
    return subprocess.run([rag_command(), "ingest", "--vectors-from", str(old), str(corpus)], env=cli_env(out),
                          capture_output=True, text=True, timeout=300)


def test_vectors_from_turns_a_crashing_folder_into_the_index_an_uninterrupted_ingest_builds(built_home, tmp_path):
    damaged = copy_of(built_home, tmp_path)
    scramble_neighbour_lists(damaged)  # Chroma segfaults on it; the vectors themselves are intact
    out = tmp_path / "rebuilt"
    done = ingest_with_vectors_from(damaged, out, built_home.parent / "corpus.jsonl")
    assert done.returncode == 0, done.stderr[-2000:]
    counts = re.search(r"vectors reused from .*: ([\d,]+); embedded: ([\d,]+)", done.stdout)
    assert counts, done.stdout
    reused, encoded = (int(c.replace(",", "")) for c in counts.groups())
    assert reused >= 1000  # the flushed vectors came from the files, not the model
    expected = collection_contents(built_home)
    assert reused + encoded == len(expected["abstracts_chunks"]) + len(expected["abstracts_papers"])  # chunks, then each abstract
    rebuilt = collection_contents(out)
    for name in NAMES:
        assert rebuilt[name].keys() == expected[name].keys()
        for record_id, (vector, document, metadata) in expected[name].items():
            assert rebuilt[name][record_id][1:] == (document, metadata)
            assert np.allclose(rebuilt[name][record_id][0], vector, atol=1e-5)


def test_vectors_from_refuses_the_folder_being_written_and_says_what_it_cannot_read(built_home, tmp_path):
    corpus = built_home.parent / "corpus.jsonl"
    home = copy_of(built_home, tmp_path)
    same = ingest_with_vectors_from(home, home, corpus)
    assert same.returncode == 2 and "is the data folder being written" in same.stderr

    empty = tmp_path / "nothing-here"
    empty.mkdir()
    missing = ingest_with_vectors_from(empty, tmp_path / "out", corpus)
    assert missing.returncode == 2 and "holds no embedded Chroma store" in missing.stderr
    assert "Traceback" not in missing.stderr
