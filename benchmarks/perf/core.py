"""Index time and query latency on the bundled corpus. Prints the figures BENCHMARKS.md records.

    python -m benchmarks.perf.core [--repeat 3]

- cold: a fresh process and a fresh data folder: import, load the model, index the 67 abstracts, first answer
- warm: a fresh data folder in a process that already has the model loaded
- re-ingest: the same corpus again into the same folder (nothing changed, nothing embedded)
- retrieve / ask: p50 and p95 over every question of eval/questions.jsonl and eval/dev_questions.jsonl
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import ROOT, add_results_arguments, percentile, write_results

COLD = """
import time, sys
started = time.perf_counter()
from pathlib import Path
from rag import Assistant, Settings
assistant = Assistant(Settings(home=Path(sys.argv[1])))
assistant.ensure_ready()
indexed = time.perf_counter()
assistant.ask("What convergence rate does the online dictionary learner get?")
print(indexed - started, time.perf_counter() - started)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    add_results_arguments(parser)
    args = parser.parse_args()

    from rag import Assistant, Settings
    from rag.evaluation import load_questions

    cold_index, cold_answer = [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as home:
            out = subprocess.run([sys.executable, "-c", COLD, home], capture_output=True, text=True, check=True, cwd=ROOT)
            index_s, answer_s = map(float, out.stdout.split())
            cold_index.append(index_s)
            cold_answer.append(answer_s)

    warm, reingest = [], []
    with tempfile.TemporaryDirectory() as base:
        model_holder = Assistant(Settings.test_profile(Path(base) / "x", embedding={"backend": "minilm"}))
        embedder = model_holder.embedder.load()
        for i in range(args.repeat):
            assistant = Assistant(Settings(home=Path(base) / f"warm{i}"), embedder=embedder)
            started = time.perf_counter()
            assistant.ensure_ready()
            warm.append(time.perf_counter() - started)
            started = time.perf_counter()
            assistant.ingest([assistant.settings.corpus.default])
            reingest.append(time.perf_counter() - started)

        questions = []
        for name in ("questions.jsonl", "dev_questions.jsonl"):
            questions += load_questions(ROOT / "eval" / name)[0]
        retrieve_s, ask_s = [], []
        for q in questions:  # one pass to warm caches, as a running UI would be
            assistant.ask(q.question, history=q.history, answer_mode="extractive")
        for q in questions:
            started = time.perf_counter()
            assistant.retrieve(q.question, k=10, history=q.history)
            retrieve_s.append(time.perf_counter() - started)
            started = time.perf_counter()
            assistant.ask(q.question, history=q.history, answer_mode="extractive")
            ask_s.append(time.perf_counter() - started)

    print(f"index the bundled corpus, cold (new process, model load, 67 abstracts): median {statistics.median(cold_index):.1f} s over {args.repeat}")
    print(f"  ... and the first answer: median {statistics.median(cold_answer):.1f} s after start")
    print(f"index the bundled corpus, warm (model loaded, fresh folder): median {statistics.median(warm):.1f} s")
    print(f"re-ingest the same corpus (nothing changed): median {1000 * statistics.median(reingest):.0f} ms")
    print(f"retrieve (k=10) over {len(questions)} questions: p50 {1000 * percentile(retrieve_s, 50):.0f} ms, p95 {1000 * percentile(retrieve_s, 95):.0f} ms")
    print(f"ask (extractive) over {len(questions)} questions: p50 {1000 * percentile(ask_s, 50):.0f} ms, p95 {1000 * percentile(ask_s, 95):.0f} ms")
    write_results("core", {
        "repeats": args.repeat,
        "questions": len(questions),
        "cold_index_s": round(statistics.median(cold_index), 2),
        "cold_first_answer_s": round(statistics.median(cold_answer), 2),
        "warm_index_s": round(statistics.median(warm), 2),
        "reingest_ms": round(1000 * statistics.median(reingest), 1),
        "retrieve_ms": {"p50": round(1000 * percentile(retrieve_s, 50), 1), "p95": round(1000 * percentile(retrieve_s, 95), 1)},
        "ask_ms": {"p50": round(1000 * percentile(ask_s, 50), 1), "p95": round(1000 * percentile(ask_s, 95), 1)},
    }, args)


if __name__ == "__main__":
    main()
