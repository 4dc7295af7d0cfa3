"""Kill a real ``rag ingest`` with SIGKILL at random moments, resume it, and check that Chroma still opens it.

    python -m benchmarks.forensics.kill_resume --trials 8 --limit 2000

tests/test_scale.py kills an ingest once and checks ids and counts. This repeats it with more data and
random kill times, because the full 115k build, killed twice and stopped once, ended in a folder Chroma
1.5.9 could not open (SIGSEGV in its HNSW loader; BENCHMARKS.md, "The full 115k"). Each trial: a fresh
data folder, an ingest of the first ``--limit`` records (hashing embedder: the writes are what matter, and
it is fast), ``--kills`` SIGKILLs at random moments, a final run to the end, then a new process that opens
the store, counts both collections and runs a search. It prints each trial's outcome and a tally; the
figures go to benchmarks/results/forensics/kill-resume[-TAG].json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import ARXIV_SAMPLE, add_results_arguments, write_results

RAG = Path(sys.executable).parent / "rag"

CHECK = """
import json, sys
import numpy as np
from rag.index.chroma import ChromaStore
from rag.settings import Settings
store = ChromaStore(Settings())
papers, chunks = store.count(), store.count_chunks()
hits = store.nearest_chunks(np.ones(384, dtype=np.float32) / 384 ** 0.5, 5)
print(json.dumps({"papers": papers, "chunks": chunks, "hits": len(hits)}))
"""


def env_for(home: Path) -> dict:
    return {**os.environ, "RAG_HOME": str(home), "RAG_EMBEDDING_BACKEND": "hashing",
            "RAG_CORPUS_AUTO_INDEX": "false", "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}


def ingest(home: Path, corpus: Path, limit: int) -> subprocess.Popen:
    return subprocess.Popen([str(RAG), "ingest", "--no-progress", "--limit", str(limit), str(corpus)],
                            env=env_for(home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def check(home: Path) -> tuple[int, dict | None]:
    done = subprocess.run([sys.executable, "-c", CHECK], env=env_for(home), capture_output=True, text=True, timeout=600)
    lines = done.stdout.strip().splitlines()
    return done.returncode, (json.loads(lines[-1]) if done.returncode == 0 and lines else None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ARXIV_SAMPLE)
    parser.add_argument("--limit", type=int, default=2000)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--kills", type=int, default=2, help="SIGKILLs per trial before the run that finishes")
    parser.add_argument("--seed", type=int, default=0)
    add_results_arguments(parser)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    base = Path(tempfile.mkdtemp(prefix="rag-kill-resume-"))
    try:
        reference = base / "reference"
        started = time.perf_counter()
        ingest(reference, args.corpus, args.limit).wait()
        seconds = time.perf_counter() - started
        code, expected = check(reference)
        print(f"uninterrupted: {seconds:.0f} s, {expected} (check exit {code})", flush=True)
        tally = {"same": 0, "different": 0, "crashed": 0}
        trials = []
        for trial in range(args.trials):
            home = base / f"trial{trial}"
            kills = []
            for _ in range(args.kills):
                process = ingest(home, args.corpus, args.limit)
                wait = rng.uniform(3, seconds * 0.6)
                time.sleep(wait)
                process.kill()
                process.wait()
                kills.append(round(wait, 1))
            ingest(home, args.corpus, args.limit).wait()
            code, got = check(home)
            outcome = "crashed" if code != 0 else ("same" if got == expected else "different")
            tally[outcome] += 1
            print(f"trial {trial}: killed after {kills} s, then finished; check exit {code}: {got} -> {outcome}", flush=True)
            trials.append({"killed_after_s": kills, "check_exit": code, "got": got, "outcome": outcome})
            shutil.rmtree(home, ignore_errors=True)
        print(f"{args.trials} trials of {args.kills} SIGKILLs each, {args.limit} records: {tally}")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    write_results("kill-resume", {"uninterrupted_s": round(seconds), "expected": expected, "tally": tally, "trials": trials}, args)


if __name__ == "__main__":
    main()
