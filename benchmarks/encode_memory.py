"""Peak memory and time of the bare MiniLM encode, under glibc malloc settings given in the environment.

    python benchmarks/encode_memory.py                                  # glibc's defaults
    MALLOC_MMAP_THRESHOLD_=1048576 python benchmarks/encode_memory.py   # every block over 1 MB mmapped

Encodes the title+sentence chunks of the first arXiv abstracts (4,000 chunks, in calls of 2,000 as the ingest
makes them) and prints the resident size before, its peak while encoding (sampled every 5 ms) and after, with
the wall time. Then the same with ``malloc_trim(0)`` after calls of 2,000, 500 and 100 chunks. It shows what
the encode's freed-but-kept memory is, and what each way of giving it back costs in time.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import re
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.chunking import split_sentences  # noqa: E402
from rag.embedding import make_embedder  # noqa: E402


def resident_mb() -> int:
    return int(re.search(r"VmRSS:\s+(\d+)", Path("/proc/self/status").read_text()).group(1)) // 1024


class PeakSampler:
    def __init__(self) -> None:
        self.peak = 0
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            self.peak = max(self.peak, resident_mb())
            time.sleep(0.005)

    def reset(self) -> None:
        self.peak = resident_mb()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("../shared/data/arxiv/sample_5000.jsonl"))
    parser.add_argument("--chunks", type=int, default=4000)
    args = parser.parse_args()

    texts: list[str] = []
    with args.corpus.open() as lines:
        for line in lines:
            record = json.loads(line)
            texts += [f"{record['title']}. {s.text}" for s in split_sentences(record["abstract"])]
            if len(texts) >= args.chunks:
                break
    texts = texts[: args.chunks]
    libc = ctypes.CDLL("libc.so.6")
    embedder = make_embedder("minilm").load()
    embedder.encode(["warm up"])
    sampler = PeakSampler()
    settings = ", ".join(f"{k}={v}" for k, v in os.environ.items() if k.startswith("MALLOC_")) or "glibc defaults"
    print(f"{len(texts):,} chunks, {settings}")
    for step, trim in ((2000, False), (2000, True), (500, True), (100, True)):
        libc.malloc_trim(0)
        time.sleep(0.1)
        sampler.reset()
        before, started = resident_mb(), time.perf_counter()
        for begin in range(0, len(texts), step):
            embedder.encode(texts[begin : begin + step])
            if trim:
                libc.malloc_trim(0)
        wall = time.perf_counter() - started
        how = f"calls of {step:,}" + (" + malloc_trim after each" if trim else "")
        print(f"{how:38}: {wall:5.1f} s; resident {before} MB before, peak {sampler.peak} MB, {resident_mb()} MB after")


if __name__ == "__main__":
    main()
