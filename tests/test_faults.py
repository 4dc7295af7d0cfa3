"""Faults: a killed ingest, a Chroma server that goes away or hangs under the running UI, a full disk and a
read-only data folder. Each ends in a clear message, and nothing already indexed is lost.

(tests/test_scale.py kills a big ingest at many points; here it is one kill of the real `rag ingest`
command, compared id by id with a clean run.)
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag import Assistant, Settings
from rag.errors import StoreError
from tests.fixtures.assistants import index_state_at
from tests.fixtures.files import ARXIV_SAMPLE, HF_DAILY_SAMPLE, word_soup_corpus
from tests.fixtures.processes import clean_env, cli_env, kill_ingest_after, rag_command, start_rag_ui, stop_process
from tests.fixtures.servers import ChromaServer, FakeOpenAI, GarbageEndpoint, Reply, free_port, message_text, serve_app


# --- a killed ingest -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_kill_9_during_rag_ingest_then_ingest_again_equals_a_clean_run(tmp_path):
    corpus = word_soup_corpus(tmp_path / "corpus.jsonl", 2000)
    killed_home, clean_home = tmp_path / "killed", tmp_path / "clean"

    process = subprocess.Popen([rag_command(), "ingest", str(corpus)], env=cli_env(killed_home),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    written = kill_ingest_after(process, killed_home, 300, wait=300)
    assert 0 < written < 2000, f"the kill did not land mid-ingest ({written} papers written)"

    again = subprocess.run([rag_command(), "ingest", str(corpus)], env=cli_env(killed_home), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    clean = subprocess.run([rag_command(), "ingest", str(corpus)], env=cli_env(clean_home), capture_output=True, text=True, timeout=600)
    assert clean.returncode == 0, clean.stdout + clean.stderr

    resumed_hashes, resumed_chunks, resumed_bm25 = index_state_at(killed_home)
    fresh_hashes, fresh_chunks, fresh_bm25 = index_state_at(clean_home)
    assert len(fresh_hashes) == 2000 and fresh_bm25 == 2000
    assert resumed_hashes.keys() == fresh_hashes.keys()  # the same papers
    assert resumed_chunks == fresh_chunks  # the same chunks: none doubled, none missing
    assert resumed_hashes == fresh_hashes  # with the same content
    assert resumed_bm25 == fresh_bm25  # and BM25 agrees


# --- the Chroma server goes away, or hangs, under the running UI ----------------------------------------


@pytest.mark.server
def test_chroma_server_restarted_or_hung_under_the_ui_gives_a_message_then_recovers(tmp_path):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    server = ChromaServer(tmp_path / "chroma-data").start()
    chroma = {"host": "127.0.0.1", "port": server.port, "collection": "faults", "timeout": 3}
    assistant = Assistant(Settings.test_profile(tmp_path / "home", chroma=chroma))
    demo = None
    question = "How are angular power maps built blind in massive MIMO?"
    title = "Blind Construction of Angular Power Maps in Massive MIMO Networks"
    try:
        assistant.ingest([ARXIV_SAMPLE])
        demo, url = serve_app(assistant)
        api = Client(url, verbose=False)

        def ask():
            # result(timeout=...) turns a stuck UI into a failure of this test instead of a hang.
            return api.submit(question, api_name="/ask").result(timeout=90)

        assert ask()["citations"][0]["title"] == title

        server.stop()  # the server goes away
        with pytest.raises(AppError) as gone:
            ask()
        message = str(gone.value)
        assert "Chroma server at http://127.0.0.1:" in message and "RAG_CHROMA_HOST" in message
        assert "Traceback" not in message and "Something went wrong" not in message

        server.start()  # ... and comes back with its data: the next question works
        assert ask()["citations"][0]["title"] == title

        server.process.send_signal(signal.SIGSTOP)  # a wedged server: accepts, never answers
        with pytest.raises(AppError) as hung:
            ask()
        assert "no reply in time" in str(hung.value)
        server.process.send_signal(signal.SIGCONT)
        assert ask()["citations"][0]["title"] == title
        assert assistant.count() == 5
    finally:
        if demo is not None:
            demo.close()
        assistant.close()
        server.stop()


def test_a_wedged_chroma_server_fails_opening_instead_of_hanging(tmp_path):
    """A server that accepts connections and never answers (what a stopped process looks like)."""
    import socket  # a bare listener: it accepts, and nothing ever reads

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        settings = Settings.test_profile(tmp_path, chroma={"host": "127.0.0.1", "port": listener.getsockname()[1], "timeout": 1})
        with pytest.raises(StoreError) as info:
            Assistant(settings)
        assert "no reply in time" in str(info.value) and "RAG_CHROMA_TIMEOUT" in str(info.value)
    finally:
        listener.close()


# --- a full disk, a read-only data folder --------------------------------------------------------------


def test_free_space_guard_stops_an_ingest_before_writing_and_keeps_the_index(tmp_path):
    home = tmp_path / "home"
    assistant = Assistant(Settings.test_profile(home))
    assistant.ingest([ARXIV_SAMPLE])
    before = {p.paper_id: p for p in assistant.papers(limit=100)}
    assistant.close()

    starved = Assistant(Settings.test_profile(home, corpus={"min_free_mb": 10**9}))  # more than any disk has
    try:
        with pytest.raises(StoreError) as info:
            starved.ingest([HF_DAILY_SAMPLE])
        message = str(info.value)
        assert "RAG_CORPUS_MIN_FREE_MB" in message and "nothing was changed" in message
        assert {p.paper_id: p for p in starved.papers(limit=100)} == before
        assert starved.ask("How are angular power maps built blind in massive MIMO?").citations
    finally:
        starved.close()


def test_the_free_space_check_reserves_room_for_the_next_batch_as_measured(tmp_path, monkeypatch):
    """The floor alone let a batch start with too little room (CI: Chroma hit ENOSPC mid-write)."""
    assistant = Assistant(Settings.test_profile(tmp_path / "home", corpus={"min_free_mb": 100}))
    try:
        indexer = assistant.indexer
        folders = indexer.disk.folders
        free = {"bytes": 10 * 1024**3}
        monkeypatch.setattr("rag.ingest.disk.shutil.disk_usage", lambda folder: shutil._ntuple_diskusage(0, 0, free["bytes"]))

        indexer.disk.note_disk_use({f: free["bytes"] + 1_000_000 for f in folders}, 150)  # too small a write to learn from
        assert indexer.disk.bytes_per_chunk == {}
        indexer.disk.note_disk_use({f: free["bytes"] + 1_000_000 for f in folders}, 250)  # 4,000 bytes a chunk
        assert indexer.disk.bytes_per_chunk == {f: 4000.0 for f in folders}
        indexer.disk.note_disk_use({f: free["bytes"] - 5_000_000 for f in folders}, 250)  # space freed: nothing learned
        assert indexer.disk.bytes_per_chunk == {f: 4000.0 for f in folders}

        free["bytes"] = 150 * 1024**2
        indexer.disk.check_free_space(chunks=10_000)  # 100 MB floor + 38 MB for the batch < 150 MB free
        with pytest.raises(StoreError) as info:
            indexer.disk.check_free_space(chunks=20_000)  # 100 MB + 76 MB > 150 MB
        assert "Only 150 MB free" in str(info.value) and "plus about 76 MB for the next batch" in str(info.value)
        assert "nothing was changed" in str(info.value)
    finally:
        assistant.close()


# Run in a child process, so the disk can be a tiny tmpfs or a read-only mount in its own mount namespace.
FAULT_SCRIPT = r"""
import json, os, subprocess, sys
from pathlib import Path
from rag import Assistant, Settings
from rag.errors import RagError
home, first, second, min_free = Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
settings = Settings.test_profile(home, corpus={"min_free_mb": min_free})
out = {}
assistant = Assistant(settings)
assistant.ingest([first])
before = {p.paper_id: p.model_dump() for p in assistant.papers(limit=100000)}
if sys.argv[5:] == ["readonly"]:  # the folder turns read-only under the running assistant
    if os.geteuid() == 0:  # root writes through permissions: a read-only bind mount (in this namespace)
        subprocess.run(["mount", "--bind", str(home), str(home)], check=True)
        subprocess.run(["mount", "-o", "remount,ro,bind", str(home)], check=True)
    else:
        for folder in [home, *home.rglob("*")]:
            if folder.is_dir():
                folder.chmod(0o555)
try:
    report = assistant.ingest([second])
    out["added"] = report.added
except RagError as exc:
    out["error"] = f"{type(exc).__name__}: {exc}"
after = {p.paper_id: p.model_dump() for p in assistant.papers(limit=100000)}
out["before"], out["kept"] = len(before), all(after.get(k) == v for k, v in before.items())
out["answer"] = [c.title for c in assistant.ask("How are angular power maps built blind in massive MIMO?").citations]
print(json.dumps(out), flush=True)
"""


def can_mount() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"], capture_output=True)
    return probe.returncode == 0


def in_namespace(command: list[str], mount: str = "true") -> list[str]:
    """``command`` in a private mount namespace (after ``mount``), when root; as it is otherwise."""
    if os.geteuid() != 0:
        return command
    if not can_mount():
        pytest.skip("root without unshare -m: can't make a folder read-only or a disk small")
    return ["unshare", "-m", "sh", "-c", f'{mount} && exec "$@"', "sh", *command]


def run_fault_script(args: list[str], mount: str = "true") -> dict:
    command = in_namespace([sys.executable, "-c", FAULT_SCRIPT, *args], mount)
    done = subprocess.run(command, env=cli_env(Path(args[0])), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(os.geteuid() != 0 or not can_mount(), reason="needs root and a private mount namespace for a small tmpfs")
def test_a_really_full_disk_stops_the_ingest_cleanly_and_keeps_the_index(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    big = word_soup_corpus(tmp_path / "big.jsonl", 3000)
    # 16 MB holds the first corpus but not the second; the guard (6 MB, over a batch of writes) stops the ingest before Chroma
    # hits ENOSPC mid-write, which it survives badly (every later query fails until space is freed).
    out = run_fault_script([str(home), str(ARXIV_SAMPLE), str(big), "6"], mount=f"mount -t tmpfs -o size=16m tmpfs {home}")
    assert out["error"].startswith("StoreError: Only ") and "RAG_CORPUS_MIN_FREE_MB" in out["error"]
    assert "papers of this run were indexed before it stopped" in out["error"]
    assert out["before"] == 5 and out["kept"] is True
    assert out["answer"] == ["Blind Construction of Angular Power Maps in Massive MIMO Networks"]


def test_a_data_folder_turned_read_only_refuses_the_ingest_and_keeps_answering(tmp_path):
    home = tmp_path / "home"
    try:
        out = run_fault_script([str(home), str(ARXIV_SAMPLE), str(HF_DAILY_SAMPLE), "0", "readonly"])
    finally:
        for folder in [home, *home.rglob("*")]:
            if folder.is_dir():
                folder.chmod(0o755)
    assert out["error"].startswith("StoreError: Can't write to the data folder") and "nothing was changed" in out["error"]
    assert out["before"] == 5 and out["kept"] is True
    assert out["answer"] == ["Blind Construction of Angular Power Maps in Massive MIMO Networks"]


def test_rag_ingest_into_a_read_only_data_folder_says_so_and_leaves_the_index(tmp_path):
    home = tmp_path / "home"
    seeded = subprocess.run([rag_command(), "ingest", str(ARXIV_SAMPLE)], env=cli_env(home), capture_output=True, text=True, timeout=300)
    assert seeded.returncode == 0, seeded.stderr
    before = index_state_at(home)
    folders = [home, *home.rglob("*")]
    if os.geteuid() != 0:
        for folder in folders:
            if folder.is_dir():
                folder.chmod(0o555)
    try:
        command = in_namespace([rag_command(), "ingest", str(HF_DAILY_SAMPLE)], f"mount --bind {home} {home} && mount -o remount,ro,bind {home}")
        done = subprocess.run(command, env=cli_env(home), capture_output=True, text=True, timeout=300)
    finally:
        for folder in folders:
            if folder.is_dir():
                folder.chmod(0o755)
    output = done.stdout + done.stderr
    assert done.returncode != 0 and "Traceback" not in output
    assert "can't be written" in output or "Can't write to the data folder" in output
    assert index_state_at(home) == before


def test_store_and_bm25_failures_are_store_errors_with_readable_messages(tmp_path):
    assistant = Assistant(Settings.test_profile(tmp_path / "home"))
    assistant.ingest([ARXIV_SAMPLE])
    try:
        # The BM25 file's connection is gone (as after a crash of its disk): a StoreError, not sqlite3's.
        assistant.lexical._db.close()
        with pytest.raises(StoreError, match=r"BM25 index .*abstracts\.sqlite"):
            assistant.ask("How are angular power maps built blind in massive MIMO?", k=3)
        # Chroma failing under a read: also a StoreError naming the store.
        def broken(*args, **kwargs):
            raise RuntimeError("Error executing plan: segment unavailable")

        assistant.store.chunks.query = broken
        with pytest.raises(StoreError, match="Couldn't search in the Chroma store: RuntimeError: Error executing plan"):
            assistant.store.nearest_chunks(assistant.embedder.encode(["x"])[0], 3)
    finally:
        assistant.store.chunks.__dict__.pop("query", None)


# --- the LLM endpoint down, slow, or answering garbage -------------------------------------------------

GARBAGE = {
    "broken JSON": ("application/json", b"this is not json {"),
    "JSON of another shape": ("application/json", b'{"result": "ok", "choices": null}'),
    "a proxy's HTML page": ("text/html", b"<html><body>502 Bad Gateway</body></html>"),
    "broken stream events": ("text/event-stream", b"data: {not json\n\ndata: [DONE]\n\n"),
    "stream events of another shape": ("text/event-stream", b'data: {"choices": "nope"}\n\ndata: [DONE]\n\n'),
}


QUESTION = "How are angular power maps built blind in massive MIMO?"
TITLE = "Blind Construction of Angular Power Maps in Massive MIMO Networks"


@pytest.mark.parametrize("kind", list(GARBAGE))
def test_an_endpoint_answering_garbage_gives_the_extractive_answer_labelled_fallback(tmp_path, kind):
    with GarbageEndpoint(*GARBAGE[kind]) as endpoint:
        assistant = Assistant(Settings.test_profile(tmp_path / "home", llm={"base_url": endpoint.base_url, "max_retries": 1, "retry_backoff": 0.01, "timeout": 5}))
        try:
            assistant.ingest([ARXIV_SAMPLE])
            answer = assistant.ask(QUESTION, answer_mode="llm")
            streamed = list(assistant.stream(QUESTION, answer_mode="llm"))
        finally:
            assistant.close()
    assert answer.mode == "fallback" and not answer.refused
    assert answer.citations[0].title == TITLE
    assert any("unreadable reply" in n and "2 attempts" in n and "quoted from the abstracts instead" in n for n in answer.notes)
    assert "".join(streamed).strip() == answer.text  # nothing of the garbage reached the stream


def test_the_running_ui_answers_with_the_labelled_fallback_when_the_endpoint_is_down_slow_or_garbage(tmp_path):
    """Through the web chat's API and its chat view: never a hang, never a trace, always the label."""
    from gradio_client import Client

    garbage = GarbageEndpoint(*GARBAGE["a proxy's HTML page"]).start()
    slow = FakeOpenAI(default=Reply("late [1].", delay=4)).start()
    endpoints = {"down": f"http://127.0.0.1:{free_port()}/v1", "slow": slow.base_url, "garbage": garbage.base_url}
    try:
        for name, base_url in endpoints.items():
            settings = Settings.test_profile(tmp_path / name, llm={"base_url": base_url, "max_retries": 0, "timeout": 1})
            assistant = Assistant(settings)
            assistant.ingest([ARXIV_SAMPLE])
            demo, url = serve_app(assistant)
            try:
                api = Client(url, verbose=False)
                answer = api.submit(QUESTION, None, 5, "llm", api_name="/ask").result(timeout=120)
                assert answer["mode"] == "fallback", name
                assert answer["citations"][0]["title"] == TITLE, name
                job = api.submit(QUESTION, [], "llm", 5, "", "", [], api_name="/chat")
                job.result(timeout=120)
                final = message_text(job.outputs()[-1][1][-1])
                assert "the LLM could not be used" in final and "Traceback" not in final, name
            finally:
                demo.close()
                assistant.close()
    finally:
        garbage.stop()
        slow.stop()


# --- stopping `rag ui` --------------------------------------------------------------------------------------


def rag_ui_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """`rag ui` over the arXiv sample (hashing embedder) with its own temp folder (``tmp_path/"tmp"``)."""
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return clean_env(RAG_HOME=str(tmp_path / "home"), RAG_EMBEDDING_BACKEND="hashing", RAG_CORPUS_DEFAULT=str(ARXIV_SAMPLE),
                     TMPDIR=str(tmp_path / "tmp"), **extra)


def wait_for(condition, seconds: float = 120) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def exits_within(process: subprocess.Popen, seconds: float) -> bool:
    try:
        process.wait(timeout=seconds)
        return True
    except subprocess.TimeoutExpired:
        return False


@pytest.mark.slow
def test_ctrl_c_stops_rag_ui_at_once_while_an_answer_waits_on_a_silent_llm_endpoint(tmp_path):
    """It stayed up for minutes after one Ctrl-C: Gradio waited on the open connections. Now it stops within
    a few seconds, whatever is still running."""
    from gradio_client import Client

    with FakeOpenAI(default=Reply("never sent", delay=600)) as silent:  # accepts, reads, never answers
        port = free_port()
        process, lines = start_rag_ui(port, rag_ui_env(tmp_path, RAG_LLM_BASE_URL=silent.base_url))
        try:
            assert any("The chat is on" in line for line in lines), "".join(lines)
            api = Client(f"http://127.0.0.1:{port}/", verbose=False)
            api.submit(QUESTION, [], "llm", 5, "", "", [], api_name="/chat")
            api.submit(QUESTION, None, 5, "llm", api_name="/ask")
            assert wait_for(lambda: len(silent.chat_requests) >= 2), "the answers never reached the endpoint"
            process.send_signal(signal.SIGINT)
            assert exits_within(process, 5), "rag ui was still up 5 s after Ctrl-C"
        finally:
            output = stop_process(process, lines)
    assert process.returncode == 0 and "Stopped." in output and "Traceback" not in output


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_stopping_rag_ui_during_an_upload_leaves_no_copy_of_it(tmp_path, stop):
    from gradio_client import Client, handle_file

    corpus = word_soup_corpus(tmp_path / "big upload.jsonl", 3000)  # a minute's ingest with the hashing embedder
    temp = tmp_path / "tmp"
    port = free_port()
    process, lines = start_rag_ui(port, rag_ui_env(tmp_path))
    try:
        Client(f"http://127.0.0.1:{port}/", verbose=False).submit(handle_file(str(corpus)), api_name="/upload")
        assert wait_for(lambda: list(temp.glob("rag-upload-*/upload.jsonl"))), "the upload never started indexing"
        process.send_signal(stop)
        # Before, Ctrl-C left the copy after its 10 s of waiting, and SIGTERM killed the process outright.
        assert exits_within(process, 120), "rag ui did not stop"
    finally:
        output = stop_process(process, lines)
    assert "Traceback" not in output
    assert list(temp.glob("rag-upload-*")) == []  # our copy
    assert list(temp.rglob("big upload.jsonl")) == []  # and the web server's cached one


@pytest.mark.slow
def test_copies_left_by_a_killed_rag_ui_are_removed_at_the_next_start(tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    left = temp / f"rag-upload-{gone}-x1y2z3"  # as `rag ui` names them; its process is gone (kill -9)
    (left / "upload.jsonl").parent.mkdir()
    (left / "upload.jsonl").write_text("{}\n")
    alive = temp / f"rag-upload-{os.getpid()}-a1b2c3"  # a running process's: not touched
    alive.mkdir()
    process, lines = start_rag_ui(free_port(), rag_ui_env(tmp_path))
    try:
        assert any("The chat is on" in line for line in lines), "".join(lines)
        assert not left.exists() and alive.exists()
    finally:
        stop_process(process, lines)
