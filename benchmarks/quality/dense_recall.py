"""How much the approximate (HNSW) chunk search misses against an exact one, on a built index.

    python -m benchmarks.quality.dense_recall --home DATA_FOLDER [--ef-search 200] [--tag 115k]

At 40k abstracts the dense side alone found the seed paper first for only 54% of the seed questions (BM25
67%). This tells whether that is the approximate search or the model: for every seed question it takes the
top ``--n`` chunks Chroma's HNSW returns (what a search asks for: 2 x retrieval.candidates) and the exact top
``--n`` by cosine over every stored chunk vector, read page by page, and prints the recall of the first
against the second, and how often the exact and the approximate search agree on the best paper.
A benchmark, not a test; read-only apart from what opening an embedded store writes (and ``--ef-search``,
which is kept in the folder). The figures go to benchmarks/results/quality/dense-recall[-TAG].json.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from benchmarks.common import add_results_arguments, seed_questions, set_ef_search, write_results
from rag.index.chunking import paper_of_chunk


def exact_top(store, queries: np.ndarray, n: int, page: int) -> tuple[list[list[str]], list[list[str]], int]:
    """Exact top-``n`` chunk ids and their paper ids per query, over every chunk, streamed in pages."""
    best_scores = np.full((len(queries), n), -np.inf, dtype=np.float32)
    best_ids = np.full((len(queries), n), "", dtype=object)
    best_papers = np.full((len(queries), n), "", dtype=object)
    offset = 0
    while True:
        got = store.chunks.get(include=["embeddings", "metadatas"], limit=page, offset=offset)
        if not got["ids"]:
            break
        vectors = np.asarray(got["embeddings"], dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12
        scores = queries @ vectors.T  # (questions, page)
        ids = np.asarray(got["ids"], dtype=object)
        papers = np.asarray([m["paper_id"] for m in got["metadatas"]], dtype=object)
        all_scores = np.concatenate([best_scores, scores], axis=1)
        all_ids = np.concatenate([best_ids, np.broadcast_to(ids, scores.shape)], axis=1)
        all_papers = np.concatenate([best_papers, np.broadcast_to(papers, scores.shape)], axis=1)
        keep = np.argsort(-all_scores, axis=1, kind="stable")[:, :n]
        rows = np.arange(len(queries))[:, None]
        best_scores, best_ids, best_papers = all_scores[rows, keep], all_ids[rows, keep], all_papers[rows, keep]
        offset += len(got["ids"])
        if offset % (page * 20) == 0:
            print(f"  {offset:,} chunk vectors read", flush=True)
    return [list(r) for r in best_ids], [list(r) for r in best_papers], offset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, required=True, help="a data folder with a built index")
    parser.add_argument("--n", type=int, default=0, help="chunks per search (default: 2 x retrieval.candidates)")
    parser.add_argument("--page", type=int, default=5000)
    parser.add_argument("--ef-search", type=int, help="set the chunk collection's HNSW ef_search first (kept in the folder)")
    add_results_arguments(parser)
    args = parser.parse_args()
    if args.ef_search:
        set_ef_search(args.home, args.ef_search)

    from rag.index.chroma import ChromaStore
    from rag.index.embedding import make_embedder
    from rag.settings import Settings

    settings = Settings(home=args.home)
    n = args.n or 2 * settings.retrieval.candidates
    store = ChromaStore(settings)
    questions = seed_questions()
    embedder = make_embedder(settings.embedding.backend)
    queries = embedder.encode([q.question for q in questions]).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True) + 1e-12

    started = time.perf_counter()
    approx_ids, approx_papers = [], []
    for vector in queries:
        matches = list(store.nearest_chunks(vector, n))
        approx_ids.append(matches)
        approx_papers.append([paper_of_chunk(cid) for cid in matches])
    approx_seconds = time.perf_counter() - started

    started = time.perf_counter()
    exact_ids, exact_papers, total = exact_top(store, queries, n, args.page)
    exact_seconds = time.perf_counter() - started

    recall = np.mean([len(set(a) & set(e)) / len(e) for a, e in zip(approx_ids, exact_ids)])
    at1 = np.mean([bool(a[:1] and a[0] in e[:1]) for a, e in zip(approx_ids, exact_ids)])
    same_best_paper = np.mean([bool(a[:1] and a[0] == e[0]) for a, e in zip(approx_papers, exact_papers)])
    print(f"{args.home}: {total:,} chunk vectors, {len(questions)} seed questions, top {n} chunks each")
    print(f"HNSW recall@{n} against the exact search: {recall:.4f}; exact best chunk found first: {at1:.3f}; "
          f"same best paper: {same_best_paper:.3f}")
    print(f"time: HNSW {approx_seconds / len(questions) * 1000:.0f} ms a question; exact scan of every vector "
          f"{exact_seconds:.0f} s for all questions")
    write_results("dense-recall", {
        "chunk_vectors": total,
        "questions": len(questions),
        "n": n,
        "ef_search": args.ef_search,
        "hnsw_recall": round(float(recall), 4),
        "exact_best_chunk_first": round(float(at1), 3),
        "same_best_paper": round(float(same_best_paper), 3),
        "hnsw_ms_per_question": round(approx_seconds / len(questions) * 1000, 1),
        "exact_scan_s": round(exact_seconds, 1),
    }, args)


if __name__ == "__main__":
    main()
