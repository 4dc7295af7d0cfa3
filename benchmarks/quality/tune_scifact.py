"""Tune the fusion on SciFact's TRAIN split (never on test): dense weight, candidates, score normalisation.

    python -m benchmarks.quality.tune_scifact --data ../shared/data/scifact --home .cache/scifact [--limit N]

Uses the index `rag eval beir` builds (same --home). For every train claim it fetches, once, what the
retriever sees: the top chunks by MiniLM similarity, the top papers by BM25, and both scores for every
candidate; then it replays `rag.retrieve.retriever.Retriever`'s candidate pooling offline and fuses with
`rag.retrieve.fusion` itself (``--fusions``: relative_score is min-max, dist_based_score z-score), for each
setting, and prints nDCG@10 and recall@100 per setting, best first. Beside the shipped dense score of a
paper (its best sentence) it tries other poolings of its sentences (``POOLINGS``), which the retriever
doesn't have. Settings found here are then checked on the test split with `rag eval beir --split test`,
through the public API. The figures go to benchmarks/results/quality/tune-scifact[-TAG].json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.common import add_results_arguments, write_results
from rag.evaluation.beir import load_beir, score_run
from rag.index.chunking import paper_of_chunk
from rag.retrieve import fusion

MAX_CANDIDATES = 200
WEIGHTS = [round(w, 2) for w in np.arange(0.3, 0.91, 0.05)]
CANDIDATES = (100, 200)  # `rag eval beir` asks for k=100, so each side proposes at least 100


def gather(assistant, text: str) -> dict:
    """Everything the fusion needs for one query, for any candidates <= MAX_CANDIDATES."""
    retriever = assistant.retriever
    qvec = assistant.embedder.encode([text])[0]
    chunk_papers = [paper_of_chunk(cid) for cid in retriever.store.nearest_chunks(qvec, MAX_CANDIDATES * 2)]
    lexical_top = retriever.lexical.search(text, MAX_CANDIDATES)
    papers = list(dict.fromkeys(chunk_papers + [pid for pid, _ in lexical_top]))
    sims: dict[str, list[float]] = {}
    for chunk in retriever.store.chunk_vectors_of(papers):
        sims.setdefault(chunk.paper_id, []).append(float(chunk.vector @ qvec))
    bm25 = dict(retriever.lexical.scores_for(text, papers))
    # The paper's own vector (the normalised mean of its chunks' vectors, stored with the paper record).
    stored = retriever.store.papers.get(ids=papers, include=["embeddings"])
    paper_sims = {pid: float(np.asarray(vec) @ qvec) for pid, vec in zip(stored["ids"], stored["embeddings"])}
    return {
        "chunk_order": chunk_papers,  # papers of the top chunks, best chunk first
        "lexical_order": [pid for pid, _ in lexical_top],
        "sims": {pid: sorted(v, reverse=True) for pid, v in sims.items()},
        "bm25": bm25,
        "paper_sims": paper_sims,
    }


POOLINGS = ("max", "max+second", "max+paper0.25", "max+paper0.5", "max+paper1", "paper")


def dense_score(sims: list[float], pooling: str, paper_sim: float = 0.0) -> float:
    if not sims:
        return 0.0
    if pooling == "max":
        return sims[0]
    if pooling == "max+second":  # the best sentence, plus a little for a second supporting one
        return sims[0] + 0.3 * (sims[1] if len(sims) > 1 else sims[0])
    if pooling.startswith("max+paper"):  # the best sentence, plus the whole abstract's similarity
        return sims[0] + float(pooling.removeprefix("max+paper")) * paper_sim
    if pooling == "paper":
        return paper_sim
    raise ValueError(pooling)


def fuse(g: dict, weight: float, candidates: int, mode: fusion.FusionMode, pooling: str, k: int = 100) -> list[str]:
    """The ranking `Retriever.retrieve` would return with these settings (and the given pooling).

    Like the retriever, each side proposes max(candidates, k) papers (the dense side from the top
    2 x that many chunks), every candidate is scored on both sides, and `rag.retrieve.fusion` fuses and ranks.
    """
    candidates = max(candidates, k)
    dense_papers = list(dict.fromkeys(g["chunk_order"][: candidates * 2]))[:candidates]
    lexical_papers = g["lexical_order"][:candidates]
    pool = list(dict.fromkeys(dense_papers + lexical_papers))
    dense = {p: dense_score(g["sims"].get(p, []), pooling, g.get("paper_sims", {}).get(p, 0.0)) for p in pool}
    lexical = {p: g["bm25"].get(p, 0.0) for p in pool}
    return fusion.ranked(fusion.fuse(dense, lexical, weight, mode), k)


BM25_GRID = [(k1, b) for k1 in (0.6, 0.9, 1.2, 1.5) for b in (0.3, 0.4, 0.6, 0.75)]


def bm25_sweep(assistant, queries: dict[str, str], qrels: dict, gathered: dict) -> list[dict]:
    """BM25's k1 and b (Anserini's 0.9 / 0.4 shipped), alone and in the shipped fusion, on the gathered claims.

    The dense side is the gathered one; papers a new BM25 setting brings in get their sentence similarities
    computed as the retriever would.
    """
    lexical, store = assistant.retriever.lexical, assistant.retriever.store
    texts = list(queries.values())
    vectors = dict(zip(queries, assistant.embedder.encode(texts)))
    cfg = assistant.settings.retrieval
    shipped = (lexical.k1, lexical.b)
    rows = []
    for k1, b in BM25_GRID:
        lexical.k1, lexical.b, lexical._matrix = k1, b, None  # the weights are precomputed per setting
        replay = {}
        for qid, text in queries.items():
            g = dict(gathered[qid])
            top = lexical.search(text, MAX_CANDIDATES)
            g["lexical_order"] = [pid for pid, _ in top]
            pool = list(dict.fromkeys(g["chunk_order"] + g["lexical_order"]))
            missing = [pid for pid in pool if pid not in g["sims"]]
            if missing:
                sims = dict(g["sims"])
                for chunk in store.chunk_vectors_of(missing):
                    sims.setdefault(chunk.paper_id, []).append(float(chunk.vector @ vectors[qid]))
                g["sims"] = {pid: sorted(v, reverse=True) for pid, v in sims.items()}
                gathered[qid]["sims"] = g["sims"]
            g["bm25"] = lexical.scores_for(text, pool)
            replay[qid] = g
        truth = {q: qrels[q] for q in queries}
        alone = score_run({q: fuse(g, 0.0, 100, cfg.fusion, "max") for q, g in replay.items()}, truth)
        fused = {w: score_run({q: fuse(g, w, cfg.candidates, cfg.fusion, "max") for q, g in replay.items()}, truth)
                 for w in (0.55, 0.6, 0.65)}
        rows.append((k1, b, alone, fused))
        print(f"k1 {k1}, b {b}: BM25 alone {alone['ndcg@10']:.4f}; fused at 0.55/0.6/0.65: "
              + " / ".join(f"{fused[w]['ndcg@10']:.4f}" for w in fused), file=sys.stderr)
    lexical.k1, lexical.b, lexical._matrix = shipped[0], shipped[1], None
    print("\nBM25 k1 / b on the train claims (nDCG@10), BM25 alone and in the shipped fusion:\n")
    print("| k1 | b | BM25 alone | fused, dense weight 0.55 | 0.6 | 0.65 |")
    print("|---|---|---|---|---|---|")
    for k1, b, alone, fused in rows:
        mark = " (shipped)" if (k1, b) == shipped else ""
        print(f"| {k1} | {b}{mark} | {alone['ndcg@10']:.4f} | " + " | ".join(f"{fused[w]['ndcg@10']:.4f}" for w in fused) + " |")
    return [{"k1": k1, "b": b, "shipped": (k1, b) == shipped, "bm25_alone_ndcg@10": round(alone["ndcg@10"], 4),
             "fused_ndcg@10": {str(w): round(fused[w]["ndcg@10"], 4) for w in fused}} for k1, b, alone, fused in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/scifact")
    parser.add_argument("--home", required=True, help="the data folder `rag eval beir --home` built")
    parser.add_argument("--split", default="train", help="train (the default); never tune on test")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--cache", type=Path, help="keep what was gathered in this JSON file and reuse it")
    parser.add_argument("--bm25", action="store_true", help="sweep BM25's k1 and b instead of the fusion settings")
    parser.add_argument("--fusions", default="relative_score,dist_based_score",
                        help="rag.retrieve.fusion modes to sweep (comma-separated; reciprocal_rank too if wanted)")
    add_results_arguments(parser)
    args = parser.parse_args()
    modes = [m for m in args.fusions.split(",") if m]
    unknown = [m for m in modes if m not in fusion.FusionMode.__args__]
    if unknown:
        parser.error(f"unknown fusion mode(s) {unknown}: use {', '.join(fusion.FusionMode.__args__)}")

    from rag.evaluation.beir import open_benchmark_index

    corpus, queries, qrels = load_beir(Path(args.data), args.split)
    if args.limit:
        queries = dict(list(queries.items())[: args.limit])
    assistant = open_benchmark_index(corpus, Path(args.home))
    assistant.ensure_ready()
    started = time.perf_counter()
    gathered = {}
    if args.cache and args.cache.is_file():
        gathered = {q: g for q, g in json.loads(args.cache.read_text(encoding="utf-8")).items() if q in queries}
        print(f"{len(gathered)} queries read from {args.cache}", file=sys.stderr)
    for i, (qid, text) in enumerate(queries.items(), start=1):
        if qid not in gathered:
            gathered[qid] = gather(assistant, text)
        if i % 100 == 0:
            print(f"{i}/{len(queries)} queries gathered ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    if args.cache:
        args.cache.write_text(json.dumps(gathered), encoding="utf-8")
    # The offline replay must rank as the retriever does: check it on a few queries at the current settings.
    cfg = assistant.settings.retrieval
    sample = list(queries.items())[:20]
    agree = sum(
        [h.paper_id for h in assistant.retrieve(text, k=100)][:10]
        == fuse(gathered[qid], cfg.dense_weight, cfg.candidates, cfg.fusion, "max")[:10]
        for qid, text in sample
    )
    print(f"offline replay = Assistant.retrieve (top 10) on {agree}/{len(sample)} queries", file=sys.stderr)
    common = {"split": args.split, "claims": len(queries), "replay_agrees_with_retrieve": f"{agree}/{len(sample)}",
              "shipped": {"fusion": cfg.fusion, "dense_weight": cfg.dense_weight, "candidates": cfg.candidates}}
    if args.bm25:
        rows = bm25_sweep(assistant, queries, qrels, gathered)
        assistant.close()
        write_results("tune-scifact-bm25", {**common, "bm25_grid": rows}, args)
        return
    assistant.close()

    results = []
    for norm in modes:
        for pooling in POOLINGS:
            for candidates in CANDIDATES:
                for weight in [0.0, *WEIGHTS, 1.0]:
                    run = {qid: fuse(g, weight, candidates, norm, pooling) for qid, g in gathered.items()}
                    scores = score_run(run, {q: qrels[q] for q in queries})
                    results.append((scores["ndcg@10"], scores["recall@100"], norm, pooling, candidates, weight))
    print(f"SciFact {args.split}: {len(queries)} claims; nDCG@10 / recall@100 per fusion setting, best first\n")
    print("| nDCG@10 | recall@100 | fusion | dense pooling | candidates | dense weight |")
    print("|---|---|---|---|---|---|")
    for ndcg, rec, norm, pooling, candidates, weight in sorted(results, reverse=True)[:15]:
        print(f"| {ndcg:.4f} | {rec:.4f} | {norm} | {pooling} | {candidates} | {weight} |")
    print("\nThe best setting of each dense pooling:")
    best_of = {}
    for pooling in POOLINGS:
        ndcg, rec, norm, _, candidates, weight = max(r for r in results if r[3] == pooling)
        print(f"  {pooling}: nDCG@10 {ndcg:.4f}, recall@100 {rec:.4f} ({norm}, {candidates} candidates, dense weight {weight})")
        best_of[pooling] = {"ndcg@10": round(ndcg, 4), "recall@100": round(rec, 4), "fusion": norm, "candidates": candidates, "dense_weight": weight}
    print(f"\nThe shipped fusion ({cfg.fusion}, max-chunk pooling, 100 candidates at k=100) at each weight:")
    shipped = []
    for ndcg, rec, norm, pooling, candidates, weight in results:
        if norm == cfg.fusion and pooling == "max" and candidates == 100:
            print(f"  w={weight}: nDCG@10 {ndcg:.4f}, recall@100 {rec:.4f}")
            shipped.append({"dense_weight": weight, "ndcg@10": round(ndcg, 4), "recall@100": round(rec, 4)})
    keys = ("ndcg@10", "recall@100", "fusion", "pooling", "candidates", "dense_weight")
    write_results("tune-scifact", {
        **common,
        "best_15": [dict(zip(keys, (round(r[0], 4), round(r[1], 4), *r[2:]))) for r in sorted(results, reverse=True)[:15]],
        "best_per_pooling": best_of,
        "shipped_fusion_by_weight": shipped,
    }, args)


if __name__ == "__main__":
    main()
