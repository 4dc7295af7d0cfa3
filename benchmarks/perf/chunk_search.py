"""How exact and how fast Chroma's chunk search is at each search width (`RAG_CHROMA_EF_SEARCH`), against
the exact nearest chunks worked out with numpy over every stored chunk vector, and whether it finds the
same chunks in different processes.

    python -m benchmarks.perf.chunk_search --home DATA_FOLDER [--ef 100 --ef 1000] [--processes 2]

Each width is run in fresh processes (Chroma reads the width when it first loads a collection's index):
each asks the 246 questions of our tuning sets (eval/dev_questions.jsonl, eval/questions.jsonl) for their
100 nearest chunks, as retrieval does. The data folder keeps the last width run; opening it with the
assistant sets the configured one again.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import ROOT, percentile, write_results

QUESTION_SETS = ("eval/dev_questions.jsonl", "eval/questions.jsonl")
NEAREST = 100


def _assistant(home: str, ef_search: int):
    from rag.assistant import Assistant
    from rag.settings import Settings

    settings = Settings(home=Path(home), corpus={"auto_index": False}, chroma={"ef_search": ef_search},
                        llm={"base_url": "", "api_key": ""})
    return Assistant(settings)


def _questions() -> list[str]:
    return [json.loads(line)["question"] for name in QUESTION_SETS for line in (ROOT / name).read_text().splitlines() if line.strip()]


def one_process(home: str, ef_search: int, out: str) -> None:
    """Child: the nearest chunks of every question and the time of each search, into ``out``."""
    assistant = _assistant(home, ef_search)
    vectors = assistant.embedder.encode(_questions())
    assistant.store.nearest_chunks(vectors[0], NEAREST)  # the index loads on the first search
    found, ms = [], []
    for vector in vectors:
        started = time.perf_counter()
        matches = assistant.store.nearest_chunks(vector, NEAREST)
        ms.append((time.perf_counter() - started) * 1000)
        found.append(sorted(matches))
    Path(out).write_text(json.dumps({"found": found, "ms": ms}))


def exact_nearest(home: str) -> tuple[list[list[str]], int]:
    assistant = _assistant(home, 1000)
    got = assistant.store.chunks.get(include=["embeddings"])
    ids = np.array(got["ids"])
    stored = np.asarray(got["embeddings"], dtype=np.float32)
    stored /= np.linalg.norm(stored, axis=1, keepdims=True)
    queries = assistant.embedder.encode(_questions())
    queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    return [sorted(ids[np.argsort(-(stored @ q))[:NEAREST]].tolist()) for q in queries], len(ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True, help="a data folder with an index")
    parser.add_argument("--ef", type=int, action="append", help="search widths to try (default 100 and 1000)")
    parser.add_argument("--processes", type=int, default=2, help="processes per width, to compare what they find")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--tag"), parser.add_argument("--no-results", action="store_true")
    args = parser.parse_args()
    if args.child:
        one_process(args.home, int(args.child[0]), args.child[1])
        return
    widths = args.ef or [100, 1000]
    exact, chunks = exact_nearest(args.home)
    figures: dict = {"chunks": chunks, "questions": len(exact), "nearest": NEAREST}
    with tempfile.TemporaryDirectory() as scratch:
        for ef in widths:
            runs = []
            for n in range(args.processes):
                out = os.path.join(scratch, f"{ef}-{n}.json")
                subprocess.run([sys.executable, "-m", "benchmarks.perf.chunk_search", "--home", args.home, "--child", str(ef), out],
                               check=True, cwd=ROOT)
                runs.append(json.loads(Path(out).read_text()))
            first = runs[0]["found"]
            recall = [len(set(f) & set(e)) / NEAREST for f, e in zip(first, exact)]
            ms = [t for run in runs for t in run["ms"]]
            figures[f"ef_{ef}"] = {
                "recall_of_exact": round(float(np.mean(recall)), 3),
                "questions_exact": round(float(np.mean([r == 1.0 for r in recall])), 3),
                "same_in_every_process": round(float(np.mean([len({json.dumps(run["found"][i]) for run in runs}) == 1 for i in range(len(first))])), 3),
                "p50_ms": round(percentile(ms, 50), 2), "p95_ms": round(percentile(ms, 95), 2),
            }
            print(f"ef_search {ef}: {figures[f'ef_{ef}']}", flush=True)
    write_results("chunk_search", figures, args)


if __name__ == "__main__":
    main()
