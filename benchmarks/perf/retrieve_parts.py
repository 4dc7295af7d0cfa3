"""Where a hybrid retrieve's time goes on a built index: each step timed alone, over the seed questions.

    python -m benchmarks.perf.retrieve_parts --home DATA_FOLDER [--questions 30] [--tag 115k]

The steps `rag.retrieve.retriever.Retriever.retrieve` takes, called one by one through the same store and BM25
objects, after five warm-up retrieves: the query encode, the HNSW chunk query (2 x candidates; ids and
distances), the HNSW paper query, the BM25 search, the paper records of the papers BM25 found but the dense
search didn't (their chunk counts), those papers' chunk vectors, the paper vectors of those the paper query
didn't find, the paper records of the top k and the texts of their best chunks (3 each). Prints the mean milliseconds of each;
the figures go to benchmarks/results/perf/retrieve-parts[-TAG].json.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from benchmarks.common import add_results_arguments, seed_questions, write_results
from rag import Assistant, Settings
from rag.index.chunking import chunk_id, paper_of_chunk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--questions", type=int, default=30)
    add_results_arguments(parser)
    args = parser.parse_args()

    settings = Settings(home=args.home, corpus={"auto_index": False}, llm={"base_url": "", "api_key": ""})
    assistant = Assistant(settings)
    store, lexical, cfg = assistant.store, assistant.lexical, settings.retrieval
    questions = [q.question for q in seed_questions()][: args.questions]
    for question in questions[:5]:
        assistant.retrieve(question)

    spent = dict.fromkeys(["encode", "HNSW chunk query", "HNSW paper query", "BM25 search",
                           "paper records (chunk counts)", "chunk vectors", "paper vectors", "paper records (top k)",
                           "shown chunks' texts", "whole retrieve"], 0.0)
    papers = chunks = 0

    def timed(step: str, fn, *fn_args, **fn_kwargs):
        started = time.perf_counter()
        result = fn(*fn_args, **fn_kwargs)
        spent[step] += time.perf_counter() - started
        return result

    for question in questions:
        vector = timed("encode", assistant.embedder.encode, [question])[0]
        nearest = timed("HNSW chunk query", store.nearest_chunks, vector, cfg.candidates * 2, None)
        dense = {paper_of_chunk(cid) for cid in nearest}
        by_vector = timed("HNSW paper query", store.query_papers, vector, cfg.candidates, None)
        found = timed("BM25 search", lexical.search, question, cfg.candidates, None)
        extra = [pid for pid, _ in found if pid not in dense]
        got = timed("paper records (chunk counts)", store.papers.get, ids=extra, include=["metadatas"])
        ids = [chunk_id(pid, i) for pid, meta in zip(got["ids"], got["metadatas"]) for i in range(int(meta["chunks"]))]
        timed("chunk vectors", store.chunks.get, ids=ids, include=["embeddings"])
        timed("paper vectors", store.paper_vectors, [pid for pid, _ in found if pid not in by_vector])
        top = [pid for pid, _ in found][: cfg.k]
        timed("paper records (top k)", store.get_papers, top)
        timed("shown chunks' texts", store.chunk_spans, [chunk_id(pid, i) for pid in top for i in range(3)])
        timed("whole retrieve", assistant.retrieve, question)
        papers, chunks = papers + len(extra), chunks + len(ids)

    n = len(questions)
    print(f"{store.count():,} papers in {args.home}; {n} seed questions; per question, mean: "
          f"{papers / n:.1f} papers found by BM25 only, {chunks / n:.0f} of their chunks fetched")
    for step, seconds in spent.items():
        print(f"  {step}: {seconds / n * 1000:.1f} ms")
    write_results("retrieve-parts", {
        "papers": store.count(),
        "questions": n,
        "bm25_only_papers_per_question": round(papers / n, 1),
        "their_chunks_per_question": round(chunks / n),
        "mean_ms": {step: round(seconds / n * 1000, 1) for step, seconds in spent.items()},
    }, args)


if __name__ == "__main__":
    main()
