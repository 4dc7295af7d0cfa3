"""Hostile uploads and stopping: what the web chat does with a decompression bomb, a second upload while one is
indexed, and Ctrl-C in the middle of an ingest or of an answer waiting on a silent LLM endpoint.

    python -m benchmarks.perf.hostile                      # the reported bomb: 16.8M repeated records
    python -m benchmarks.perf.hostile --records 1000000    # a smaller one

1. The bomb: N identical JSON Lines records, gzipped (16.8M: ~1.2 GB unpacked in a few MB). Read in this
   process as `rag ingest` reads it (no limits: every repeat read, counted unchanged), then uploaded to a
   `rag ui` (fresh data folder, MiniLM, no default corpus) with its default upload limits.
2. A legitimate upload (2,000 abstracts of the arXiv sample) is started; while it is indexed a second, small
   upload is sent: how long until it is answered, and what it says.
3. Ctrl-C (SIGINT) to that `rag ui` during the ingest: how long until it exits, and what is left in its temp
   folder (its copy of the upload, the web server's cached one).
4. A `rag ui` whose LLM endpoint accepts connections and never answers, with an answer waiting on it: the
   time from Ctrl-C to exit.

Everything runs on 127.0.0.1, in a temporary folder. Figures go to benchmarks/results/perf/hostile.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.common import ARXIV_SAMPLE, add_results_arguments, free_port, resident_mb, write_results

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

RECORD = json.dumps({"id": "2401.00001", "title": "A paper that repeats", "abstract": "The same abstract, again and again."}) + "\n"
QUESTION = "Which papers here study state-space models?"


def make_bomb(path: Path, records: int) -> Path:
    block = (RECORD * 100_000).encode()
    with gzip.open(path, "wb", compresslevel=9) as handle:
        for _ in range(records // 100_000):
            handle.write(block)
        handle.write(RECORD.encode() * (records % 100_000))
    return path


def read_as_rag_ingest(bomb: Path, home: Path) -> dict:
    """The bomb ingested in this process without limits (what `rag ingest` does)."""
    from rag import Assistant, Settings

    assistant = Assistant(Settings(home=home, corpus={"auto_index": False}))
    rss = resident_mb()
    started = time.perf_counter()
    report = assistant.ingest([bomb])
    seconds = time.perf_counter() - started
    assistant.close()
    read = report.added + report.unchanged + len(report.skipped)
    return {"seconds": round(seconds, 1), "records": read, "added": report.added, "unchanged": report.unchanged,
            "us_per_record": round(seconds / read * 1e6, 2), "rss_growth_mb": round(resident_mb() - rss)}


def start_ui(home: Path, temp: Path, **env: str) -> tuple[subprocess.Popen, str, list[str]]:
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_"))}
    environment.update({"RAG_HOME": str(home), "RAG_CORPUS_AUTO_INDEX": "false", "HF_HUB_OFFLINE": "1",
                        "GRADIO_ANALYTICS_ENABLED": "False", "TMPDIR": str(temp), **env})
    rag = Path(sys.executable).parent / "rag"
    process = subprocess.Popen([str(rag), "ui", "--port", str(port)], env=environment, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line)
        if "The chat is on" in line:
            break
    else:
        raise SystemExit("`rag ui` stopped before serving:\n" + "".join(lines))
    threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True).start()
    return process, f"http://127.0.0.1:{port}/", lines


def time_to_exit(process: subprocess.Popen, limit: float = 120) -> float | None:
    started = time.perf_counter()
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return None
    return round(time.perf_counter() - started, 2)


def uploads_and_stop(bomb: Path, work: Path) -> dict:
    from gradio_client import Client, handle_file

    temp = work / "ui-tmp"
    temp.mkdir()
    process, url, lines = start_ui(work / "ui-home", temp)
    figures: dict = {}
    try:
        api = Client(url, verbose=False)
        started = time.perf_counter()
        report, _ = api.predict(handle_file(str(bomb)), api_name="/upload")
        figures["bomb_refused_after_s"] = round(time.perf_counter() - started, 2)
        figures["bomb_message"] = report.split('<span>', 1)[-1].split("</span>", 1)[0]
        figures["papers_after_bomb"] = api.predict("", 5, 0, api_name="/papers")["total"]

        real = work / "arxiv-2000.jsonl"
        with ARXIV_SAMPLE.open(encoding="utf-8") as source, real.open("w", encoding="utf-8") as out:
            for _, line in zip(range(2000), source):
                out.write(line)
        small = work / "small.jsonl"
        small.write_text(json.dumps({"id": "small-1", "title": "A small upload", "abstract": "One abstract."}) + "\n")
        Client(url, verbose=False).submit(handle_file(str(real)), api_name="/upload")
        deadline = time.monotonic() + 120
        while not list(temp.glob("rag-upload-*/upload.jsonl")) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(2)  # well into its ingest
        started = time.perf_counter()
        second, _ = Client(url, verbose=False).predict(handle_file(str(small)), api_name="/upload")
        figures["second_upload_answered_after_s"] = round(time.perf_counter() - started, 2)
        figures["second_upload_message"] = second.split('<span>', 1)[-1].split("</span>", 1)[0]

        figures["exit_after_ctrl_c_during_ingest_s"] = time_to_exit(process)
        figures["upload_copies_left"] = len(list(temp.glob("rag-upload-*")))
        figures["cached_uploads_left"] = len(list(temp.rglob("arxiv-2000.jsonl")))
    finally:
        if process.poll() is None:
            process.kill()
    figures["traceback_in_output"] = "Traceback" in "".join(lines)
    return figures


def stop_with_a_silent_endpoint(work: Path) -> dict:
    from gradio_client import Client

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    held: list = []
    threading.Thread(target=lambda: [held.append(silent.accept()) for _ in iter(int, 1)], daemon=True).start()
    temp = work / "llm-tmp"
    temp.mkdir()
    process, url, _ = start_ui(work / "llm-home", temp, RAG_LLM_BASE_URL=f"http://127.0.0.1:{silent.getsockname()[1]}/v1",
                               RAG_CORPUS_AUTO_INDEX="true")
    try:
        api = Client(url, verbose=False)
        api.submit(QUESTION, [], "llm", 5, "", "", [], api_name="/chat")
        deadline = time.monotonic() + 120
        while not held and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1)
        return {"answers_waiting": len(held), "exit_after_ctrl_c_s": time_to_exit(process)}
    finally:
        if process.poll() is None:
            process.kill()
        silent.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=16_800_000, help="records in the bomb (the reported one: 16.8M)")
    parser.add_argument("--skip-ingest", action="store_true", help="skip reading the bomb without limits in this process")
    add_results_arguments(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rag-hostile-") as folder:
        work = Path(folder)
        bomb = make_bomb(work / "bomb.jsonl.gz", args.records)
        figures: dict = {"bomb": {"records": args.records, "gz_mb": round(bomb.stat().st_size / 2**20, 1),
                                  "unpacked_mb": round(len(RECORD.encode()) * args.records / 2**20)}}
        print("bomb:", figures["bomb"], flush=True)
        if not args.skip_ingest:
            figures["rag_ingest_no_limits"] = read_as_rag_ingest(bomb, work / "home")
            print("rag ingest (no limits):", figures["rag_ingest_no_limits"], flush=True)
        figures["ui"] = uploads_and_stop(bomb, work)
        print("rag ui:", figures["ui"], flush=True)
        figures["silent_llm"] = stop_with_a_silent_endpoint(work)
        print("silent LLM endpoint:", figures["silent_llm"], flush=True)
    write_results("hostile", figures, args)


if __name__ == "__main__":
    main()
