"""Which chunking and fusion weight retrieve best? Prints recall@1/3 and MRR per configuration.

    python -m benchmarks.quality.chunking [--questions eval/dev_questions.jsonl]

Each configuration gets its own throwaway index of the bundled corpus (embedding it is most of the run).
Decisions are taken on the dev set; the held-out eval/questions.jsonl is for reporting.
The figures go to benchmarks/results/quality/chunking[-TAG].json.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.common import ROOT, add_results_arguments, write_results
from rag import Assistant, Settings
from rag.evaluation import load_questions

CONFIGS = {
    "128 tokens, 1 overlap": {"max_tokens": 128, "overlap_sentences": 1, "max_sentences": 0},
    "200 tokens, 1 overlap": {"max_tokens": 200, "overlap_sentences": 1, "max_sentences": 0},
    "254 tokens, no overlap": {"max_tokens": 254, "overlap_sentences": 0, "max_sentences": 0},
    "1 sentence": {"max_tokens": 128, "overlap_sentences": 0, "max_sentences": 1},
    "2 sentences, stride 1": {"max_tokens": 128, "overlap_sentences": 1, "max_sentences": 2},
    "3 sentences, stride 2": {"max_tokens": 160, "overlap_sentences": 1, "max_sentences": 3},
}
WEIGHTS = (0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", default=str(ROOT / "eval" / "dev_questions.jsonl"))
    parser.add_argument("--types", default="fact,paraphrase,followup,multi,injection")
    add_results_arguments(parser)
    args = parser.parse_args()
    questions, _ = load_questions(args.questions)
    questions = [q for q in questions if q.type in args.types.split(",") and q.relevant_titles]
    print(f"{len(questions)} answerable questions from {args.questions}")
    print(f"{'chunking':24} {'chunks':>6} {'index s':>7} {'w':>4} {'R@1':>6} {'R@3':>6} {'MRR':>6}")
    rows = []
    for name, chunking in CONFIGS.items():
        with tempfile.TemporaryDirectory() as home:
            settings = Settings(home=Path(home), chunking=chunking)
            assistant = Assistant(settings)
            started = time.perf_counter()
            assistant.ensure_ready()
            seconds = time.perf_counter() - started
            chunks = assistant.store.count_chunks()
            for weight in WEIGHTS:
                settings.retrieval.dense_weight = weight
                r1 = r3 = mrr = 0.0
                for q in questions:
                    titles = [h.title for h in assistant.retrieve(q.question, k=10, history=q.history)]
                    ranks = [titles.index(t) + 1 for t in q.relevant_titles if t in titles]
                    r1 += sum(r <= 1 for r in ranks) / len(q.relevant_titles)
                    r3 += sum(r <= 3 for r in ranks) / len(q.relevant_titles)
                    mrr += 1 / min(ranks) if ranks else 0
                n = len(questions)
                print(f"{name:24} {chunks:6d} {seconds:7.1f} {weight:4.1f} {r1 / n:6.3f} {r3 / n:6.3f} {mrr / n:6.3f}", flush=True)
                rows.append({"chunking": name, "chunks": chunks, "index_s": round(seconds, 1), "dense_weight": weight,
                             "recall_at_1": round(r1 / n, 3), "recall_at_3": round(r3 / n, 3), "mrr": round(mrr / n, 3)})
            assistant.close()
    write_results("chunking", {"questions": len(questions), "configs": CONFIGS, "rows": rows}, args)


if __name__ == "__main__":
    main()
