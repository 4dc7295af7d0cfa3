"""What one chunk costs embedded Chroma in memory: resident size against records upserted, no model involved.

    python -m benchmarks.memory.chroma_memory --records 60000

Upserts random 384-float vectors with a sentence-sized document and our chunk metadata into a fresh
persistent Chroma collection (cosine HNSW, as rag.index.chroma makes it), 2,000 at a time, and prints the process's
resident size every 10,000 records, after glibc has handed freed memory back (``malloc_trim``), so what is
left is what the index holds. In theory a record is its 384 floats (1,536 bytes) plus HNSW links; an abstract
is about 8 sentence chunks plus its paper record. The figures go to benchmarks/results/memory/chroma-memory[-TAG].json.
"""

from __future__ import annotations

import argparse
import ctypes
import shutil
import tempfile

import chromadb
import numpy as np

from benchmarks.common import add_results_arguments, resident_mb, write_results

SENTENCE = "A title of a paper. A sentence of its abstract that says something about the models it trains."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=60_000)
    add_results_arguments(parser)
    args = parser.parse_args()

    libc = ctypes.CDLL("libc.so.6")
    folder = tempfile.mkdtemp(prefix="rag-chroma-memory-")
    try:
        client = chromadb.PersistentClient(path=folder, settings=chromadb.Settings(anonymized_telemetry=False))
        collection = client.get_or_create_collection(
            "probe_chunks", embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )
        rng = np.random.default_rng(0)
        step = 2_000
        base = resident_mb()
        print(f"Chroma opened: {base:.0f} MB resident")
        print("records | resident MB | KB per record since opening | KB per record over the last 10,000")
        last = (0, base)
        rows = []
        for begin in range(0, args.records, step):
            ids = range(begin, begin + step)
            collection.upsert(
                ids=[f"paper{i // 8}::{i % 8}" for i in ids],
                embeddings=rng.standard_normal((step, 384)).astype(np.float32),
                documents=[SENTENCE] * step,
                metadatas=[
                    {"paper_id": f"paper{i // 8}", "chunk": i % 8, "start": 0, "end": len(SENTENCE), "date": 20240101, "categories": "cs.LG"}
                    for i in ids
                ],
            )
            done = begin + step
            if done % 10_000 == 0:
                collection.count()
                libc.malloc_trim(0)
                now = resident_mb()
                print(f"{done:7,} | {now:11.0f} | {(now - base) * 1024 / done:27.2f} | {(now - last[1]) * 1024 / (done - last[0]):.2f}")
                rows.append({"records": done, "resident_mb": round(now), "kb_per_record_since_open": round((now - base) * 1024 / done, 2),
                             "kb_per_record_last_10k": round((now - last[1]) * 1024 / (done - last[0]), 2)})
                last = (done, now)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    write_results("chroma-memory", {"opened_mb": round(base), "rows": rows}, args)


if __name__ == "__main__":
    main()
