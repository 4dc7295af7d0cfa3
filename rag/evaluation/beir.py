"""A BEIR-format benchmark (SciFact) through the public API: nDCG@10 and recall@10/100 per retriever.

The corpus goes into an index of its own (a separate data folder), built on the first run and reused after:
ingest is idempotent, so a second run only checks that nothing changed. Queries are the claims of the
chosen qrels split; ``test`` is what we report, ``train`` is what fusion settings are tuned on
(eval/tune_scifact.py). Scores follow BEIR/pytrec_eval: nDCG with the qrels' graded relevance and the ideal
ranking of all judged documents, recall as the share of a query's relevant documents retrieved.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from rag.errors import RagError
from rag.evaluation.progress import progress_printer
from rag.evaluation.scoring import RETRIEVERS, percentile

# Published nDCG@10 on the SciFact test split (BEIR paper, MTEB results, Anserini regressions).
PUBLISHED_SCIFACT = {
    "BM25 (BEIR paper / Anserini)": "0.665–0.679",
    "all-MiniLM-L6-v2 (dense, whole abstract)": "0.645",
    "bge-small-en-v1.5": "0.713",
    "bge-base-en-v1.5": "0.741",
    "RRF of BM25 and bge-base-en-v1.5": "0.744",
}
CUTOFFS = (10, 100)


def load_beir(data: Path, split: str) -> tuple[Path, dict[str, str], dict[str, dict[str, int]]]:
    """The corpus file, the queries of ``split`` ({id: text}) and their qrels ({query id: {doc id: grade}})."""
    corpus = data / "corpus.jsonl"
    qrels_file = data / "qrels" / f"{split}.tsv"
    for needed in (corpus, data / "queries.jsonl", qrels_file):
        if not needed.is_file():
            raise RagError(f"{needed} is missing: --data should be a BEIR folder (corpus.jsonl, queries.jsonl, qrels/{split}.tsv).")
    qrels: dict[str, dict[str, int]] = {}
    for number, line in enumerate(qrels_file.read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.split("\t")
        if number == 1 and not parts[-1].strip().lstrip("-").isdigit():
            continue  # the header
        if len(parts) != 3:
            raise RagError(f"{qrels_file}:{number}: expected 'query-id<TAB>corpus-id<TAB>score'")
        query_id, doc_id, grade = (p.strip() for p in parts)
        if int(grade) > 0:
            qrels.setdefault(query_id, {})[doc_id] = int(grade)
    queries: dict[str, str] = {}
    with open(data / "queries.jsonl", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                if str(record["_id"]) in qrels:
                    queries[str(record["_id"])] = record["text"]
    missing = set(qrels) - set(queries)
    if missing:
        raise RagError(f"{len(missing)} queries of qrels/{split}.tsv are not in queries.jsonl (e.g. {sorted(missing)[0]}).")
    return corpus, queries, qrels


def ndcg_at(ranked: Sequence[str], relevant: dict[str, int], k: int = 10) -> float:
    dcg = sum(relevant.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranked[:k]))
    ideal = sum(g / math.log2(i + 2) for i, g in enumerate(sorted(relevant.values(), reverse=True)[:k]))
    return dcg / ideal if ideal else 0.0


def recall_at(ranked: Sequence[str], relevant: dict[str, int], k: int) -> float:
    return len(set(ranked[:k]) & set(relevant)) / len(relevant) if relevant else 0.0


def score_run(run: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    """Mean nDCG@10 and recall@10/100 of ``run`` ({query id: ranked doc ids}) over the queries of ``qrels``."""
    ids = [q for q in qrels if q in run]
    if not ids:
        return {"ndcg@10": 0.0, **{f"recall@{k}": 0.0 for k in CUTOFFS}}
    out = {"ndcg@10": sum(ndcg_at(run[q], qrels[q]) for q in ids) / len(ids)}
    for k in CUTOFFS:
        out[f"recall@{k}"] = sum(recall_at(run[q], qrels[q], k) for q in ids) / len(ids)
    return {key: round(value, 4) for key, value in out.items()}


def benchmark_home(data: Path, home: str | None) -> Path:
    if home:
        return Path(home).expanduser()
    from rag.settings import Settings

    return Settings().home / "beir" / data.resolve().name


def open_benchmark_index(corpus: Path, home: Path, progress: bool | None = None):
    """An `Assistant` over the benchmark corpus in its own data folder, ingested unless it already is."""
    from rag.assistant import Assistant
    from rag.settings import Settings

    assistant = Assistant(Settings(home=home, corpus={"auto_index": False}))
    started = time.perf_counter()
    report = assistant.ingest([corpus], progress=progress)
    if report.errors:
        raise RagError(f"Could not read {corpus}: {'; '.join(report.errors)}")
    print(f"index {home}: {report.summary()} [{time.perf_counter() - started:.1f} s]", file=sys.stderr)
    return assistant


def evaluate_beir(
    assistant,
    queries: dict[str, str],
    qrels: dict[str, dict[str, int]],
    retrievers: Sequence[str] = RETRIEVERS,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Each retriever's top 100 for every query, through `Assistant.retrieve`, scored against ``qrels``."""
    runs: dict[str, dict[str, list[str]]] = {mode: {} for mode in retrievers}
    seconds: dict[str, list[float]] = {mode: [] for mode in retrievers}
    for i, (query_id, text) in enumerate(queries.items(), start=1):
        for mode in retrievers:
            started = time.perf_counter()
            hits = assistant.retrieve(text, k=max(CUTOFFS), retriever=mode)
            seconds[mode].append(time.perf_counter() - started)
            runs[mode][query_id] = [h.paper_id for h in hits]
        if on_progress:
            on_progress(i, len(queries))
    results = {}
    for mode in retrievers:
        results[mode] = {
            **score_run(runs[mode], qrels),
            "latency_ms_p50": round(1000 * percentile(seconds[mode], 50), 1),
            "latency_ms_p95": round(1000 * percentile(seconds[mode], 95), 1),
        }
    return {"queries": len(queries), "retrievers": results, "runs": runs}


def markdown(report: dict) -> str:
    r = report["retrievers"]
    settings = report["settings"]
    lines = [
        f"# {report['dataset']} ({report['split']} split, {report['queries']} queries, {report['documents']:,} documents)",
        "",
        f"Embedder: {settings['embedder']}; chunks: {settings['chunking']}; fusion: dense weight "
        f"{settings['dense_weight']}, papers' own vectors {settings.get('abstract_weight', 0.0)}, "
        f"{settings['candidates']} candidates per retriever.",
        "",
        "| retriever | nDCG@10 | recall@10 | recall@100 | p50 ms | p95 ms |",
        "|---|---|---|---|---|---|",
    ]
    for mode, m in r.items():
        lines.append(
            f"| ours: {mode} | {m['ndcg@10']:.3f} | {m['recall@10']:.3f} | {m['recall@100']:.3f} | "
            f"{m['latency_ms_p50']} | {m['latency_ms_p95']} |"
        )
    if report["dataset"] == "scifact" and report["split"] == "test":
        lines += ["", "Published nDCG@10 on the same split:", "", "| retriever | nDCG@10 |", "|---|---|"]
        lines += [f"| {name} | {value} |" for name, value in PUBLISHED_SCIFACT.items()]
    return "\n".join(lines) + "\n"


def main(args: argparse.Namespace) -> int:
    data = Path(args.data).expanduser()
    corpus, queries, qrels = load_beir(data, args.split)
    if args.limit:
        queries = dict(list(queries.items())[: args.limit])
    retrievers = tuple(r.strip() for r in args.retrievers.split(",") if r.strip())
    if not retrievers or any(r not in RETRIEVERS for r in retrievers):
        raise RagError(f"--retrievers takes a comma-separated list of {', '.join(RETRIEVERS)}; got {args.retrievers!r}.")
    home = benchmark_home(data, args.home)
    assistant = open_benchmark_index(corpus, home)
    try:
        documents = assistant.count()


        result = evaluate_beir(assistant, queries, qrels, retrievers, on_progress=progress_printer("queries"))
        s = assistant.settings
        report = {
            "dataset": data.resolve().name,
            "split": args.split,
            "documents": documents,
            "home": str(home),
            "settings": {
                "embedder": s.embedding.backend,
                "chunking": f"{s.chunking.max_sentences or 'any'} sentence(s), at most {s.chunking.max_tokens} tokens",
                "dense_weight": s.retrieval.dense_weight,
                "abstract_weight": s.retrieval.abstract_weight if assistant.store.abstract_vectors else 0.0,
                "candidates": s.retrieval.candidates,
            },
            "published_ndcg@10": PUBLISHED_SCIFACT if data.resolve().name == "scifact" else {},
            **result,
        }
    finally:
        assistant.close()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"beir_{args.split}.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    text = markdown(report)
    (out / f"beir_{args.split}.md").write_text(text, encoding="utf-8")
    print(text)
    print(f"Wrote {out / f'beir_{args.split}.json'} and {out / f'beir_{args.split}.md'}")
    return 0
