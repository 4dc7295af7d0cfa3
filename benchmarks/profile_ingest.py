"""Where an ingest's wall time goes: the encode, chunking, the writes (on their own thread), waits.

    python benchmarks/profile_ingest.py --limit 1000 [--corpus ../shared/data/arxiv/sample_5000.jsonl]

Wraps the ingest's stages with timers (seconds inside each, summed; the writer thread's time overlaps the
encode) and prints them beside the wall and CPU seconds of the whole ingest into a fresh data folder.
CPU seconds near twice the wall time mean both cores were busy: the ingest is then CPU-bound, and only
less work (not more overlap) makes it faster.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import rag.indexing as indexing  # noqa: E402
from rag import Assistant, Settings  # noqa: E402
from rag.embedding import make_embedder  # noqa: E402

SECONDS: collections.Counter = collections.Counter()


def timed(owner, name: str, label: str) -> None:
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            SECONDS[label] += time.perf_counter() - started

    setattr(owner, name, wrapper)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("../shared/data/arxiv/sample_5000.jsonl"))
    parser.add_argument("--limit", type=int, default=1000)
    args = parser.parse_args()

    embedder = make_embedder("minilm").load()
    embedder.encode(["warm up"])
    timed(embedder, "encode", "encode (main thread; torch on every core)")
    timed(indexing, "chunk_paper", "chunking (main thread)")
    timed(indexing._Writer, "wait", "waiting for the previous batch's writes (main thread)")
    timed(indexing.Indexer, "_write", "writes: Chroma, then BM25 (writer thread)")
    home = Path(tempfile.mkdtemp(prefix="rag-profile-"))
    try:
        assistant = Assistant(Settings(home=home, corpus={"auto_index": False}, llm={"base_url": "", "api_key": ""}), embedder=embedder)
        timed(assistant.store, "hashes", "hash lookups (main thread)")
        started, cpu = time.perf_counter(), time.process_time()
        report = assistant.ingest([args.corpus], limit=args.limit, progress=False)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        print(f"load average {os.getloadavg()[0]:.1f}; {report.added:,} abstracts -> {report.chunks:,} chunks: "
              f"{wall:.1f} s wall, {cpu:.0f} CPU s ({cpu / wall:.2f} cores busy on average)")
        for label, seconds in SECONDS.most_common():
            print(f"  {label}: {seconds:.1f} s ({seconds / wall:.0%} of the wall time)")
        assistant.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
