"""The fusion weights of the retrieval views (best chunk, the paper's own vector, BM25) chosen on tuning
questions only, at three corpus sizes.

    python -m benchmarks.quality.tune_views --bundled-home DIR --distractors-home DIR --hf-home DIR

The homes are the indexes `benchmarks.quality.heldout` builds (the 67 bundled abstracts; the 67 with 2,000
hf-daily distractors; all 8,036 hf-daily papers and the 67). Tuning sets only: eval/dev_questions.jsonl,
eval/questions.jsonl and the first held-out sets, scored once and tuning data since
(eval/heldout_questions.jsonl; eval/scale_questions.jsonl on hf-daily). Never eval/heldout2_questions.jsonl
or eval/scale2_questions.jsonl.

Each question is resolved and embedded once; every weight pair then retrieves 10 papers for it. The score
of a pair is the mean, over every (corpus, set), of the three retrieval figures the quality issue sets goals
for: paraphrase recall@3, fact recall@1 and multi-paper recall@10. Results:
benchmarks/results/quality/tune_views.json.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np

from benchmarks.common import ROOT, write_results
from rag.assistant import Assistant
from rag.evaluation import load_questions
from rag.evaluation.scoring import retrieval_scores
from rag.retrieve.retriever import Retriever
from rag.settings import Settings

SETS = {
    "bundled": ("dev_questions", "questions", "heldout_questions"),
    "distractors": ("questions", "heldout_questions"),
    "hf-daily": ("questions", "scale_questions"),
}
FIGURES = {"paraphrase": 3, "fact": 1, "multi": 10}  # question type -> the recall@n the issue tracks
DENSE = (0.4, 0.5, 0.6, 0.7)
ABSTRACT = (0.0, 0.1, 0.2, 0.3)


def prepared(assistant: Assistant, set_name: str) -> list[tuple[str, str, np.ndarray, set[str]]]:
    """(type, what is searched, its vector, relevant titles) of each answerable question of a tracked type."""
    questions, problems = load_questions(ROOT / "eval" / f"{set_name}.jsonl")
    assert not problems, problems
    out = []
    for q in questions:
        if q.answerable and q.type in FIGURES:
            text, _ = assistant.asking.clean(q.question)
            resolved = assistant.asking.resolve(text, q.history_messages() or None)
            _, vector = assistant.asking.embed(text, resolved.search_query)
            out.append((q.type, resolved.search_query, vector, set(q.relevant_titles)))
    return out


def scored(retriever: Retriever, items) -> dict[str, float]:
    recalls: dict[str, list[float]] = {kind: [] for kind in FIGURES}
    for kind, query, vector, relevant in items:
        titles = [h.title for h in retriever.retrieve(query, k=10, query_vector=vector)]
        recalls[kind].append(retrieval_scores(titles, relevant)[f"recall@{FIGURES[kind]}"])
    return {f"{kind}_recall@{n}": round(float(np.mean(recalls[kind])), 3) for kind, n in FIGURES.items() if recalls[kind]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundled-home", required=True)
    parser.add_argument("--distractors-home", required=True)
    parser.add_argument("--hf-home", required=True)
    parser.add_argument("--tag"), parser.add_argument("--no-results", action="store_true")
    args = parser.parse_args()
    homes = {"bundled": args.bundled_home, "distractors": args.distractors_home, "hf-daily": args.hf_home}
    pairs = [(d, a) for d, a in itertools.product(DENSE, ABSTRACT) if d + a <= 1.0]
    table: dict[str, dict] = {f"dense={d},abstract={a}": {} for d, a in pairs}
    for corpus, home in homes.items():
        settings = Settings(home=Path(home), corpus={"auto_index": False}, llm={"base_url": "", "api_key": ""})
        assistant = Assistant(settings)
        assistant.ensure_ready()
        assert assistant.store.abstract_vectors, f"{home}: an index without the papers' own vectors"
        items = {name: prepared(assistant, name) for name in SETS[corpus]}
        for d, a in pairs:
            tuned = settings.model_copy(update={"retrieval": settings.retrieval.model_copy(update={"dense_weight": d, "abstract_weight": a})})
            retriever = Retriever(tuned, assistant.store, assistant.lexical, assistant.embedder)
            for name, questions in items.items():
                table[f"dense={d},abstract={a}"][f"{corpus}/{name}"] = scored(retriever, questions)
            print(corpus, d, a, table[f"dense={d},abstract={a}"], flush=True)
        assistant.close()
    for row in table.values():
        row["mean"] = round(float(np.mean([v for cell in row.values() for v in cell.values()])), 4)
    best = max(table, key=lambda key: table[key]["mean"])
    for key, row in sorted(table.items(), key=lambda kv: -kv[1]["mean"]):
        print(f"{key}: mean {row['mean']}")
    print(f"best on the tuning sets: {best}")
    write_results("tune_views", {"pairs": table, "best": best}, args)


if __name__ == "__main__":
    main()
