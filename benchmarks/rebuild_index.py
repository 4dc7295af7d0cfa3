"""Rebuild a data folder Chroma can't open into a new one, reusing its stored vectors instead of re-embedding.

    python benchmarks/rebuild_index.py --home /data/arxiv115k --out /data/arxiv115k-rebuilt [CORPUS ...]

The 115k build's chunk segment crashes Chroma 1.5.9 when it is loaded (BENCHMARKS.md, "The full 115k"), yet
every vector in it is intact (`hnsw_files.py`). This runs an ordinary `Assistant.ingest` of the same corpus
into ``--out`` with one change: the embedder first looks each chunk text up among the vectors read from the
old folder's files (`hnsw_files.StoredChunks`), and only encodes what isn't there (chunks whose write was still
in Chroma's log, or whose text changed). Everything else — chunking, ids, metadata, paper vectors, the BM25
side — is the normal ingest, so ``--out`` is what an uninterrupted ingest of the corpus would have built.
The old folder is only read. It prints how many vectors were reused and how many encoded, and the time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from hnsw_files import StoredChunks  # noqa: E402  (benchmarks share their helpers by import)

from rag import Assistant, Settings  # noqa: E402
from rag.embedding import Embedder, make_embedder  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "data" / "arxiv" / "arxiv_abstracts.jsonl.gz"


class StoredVectorEmbedder(Embedder):
    """Vectors by exact text from an old store's files; the real model for any text not among them."""

    def __init__(self, rows: dict[str, int], vectors: np.ndarray, model: Embedder) -> None:
        self.rows, self.vectors, self.model = rows, vectors, model
        self.name = model.name  # the vectors it returns are that model's, stored or fresh
        self.reused = self.encoded = 0

    @property
    def count_tokens(self):  # chunking must count word pieces exactly as the original ingest did
        return self.model.count_tokens

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dimensions), dtype=np.float32)
        missing = [i for i, text in enumerate(texts) if text not in self.rows]
        for i, text in enumerate(texts):
            row = self.rows.get(text)
            if row is not None:
                out[i] = self.vectors[row]
        if missing:
            out[missing] = self.model.encode([texts[i] for i in missing])
        self.reused += len(texts) - len(missing)
        self.encoded += len(missing)
        return out


def load_stored(home: Path, collection: str) -> tuple[dict[str, int], np.ndarray]:
    """Embedding text -> row of a vector array holding every chunk vector found in ``home``'s files."""
    files = StoredChunks(home, collection)
    rows_by_id = files.rows_by_id()
    texts = files.embedding_texts()
    ids = [chunk_id for chunk_id in rows_by_id if chunk_id in texts]
    vectors = np.empty((len(ids), files.dim), dtype=np.float32)
    start = files.header["offset_data"]
    for begin in range(0, len(ids), 50_000):  # row by row would be slow; fancy-index a block of the memmap
        part = ids[begin:begin + 50_000]
        block = files.elements[[rows_by_id[c] for c in part], start:start + 4 * files.dim]
        vectors[begin:begin + len(part)] = np.ascontiguousarray(block).view("<f4")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)  # Chroma's cosine space keeps them unit length
    return {texts[chunk_id]: row for row, chunk_id in enumerate(ids)}, vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, required=True, help="the data folder Chroma can't open (only read)")
    parser.add_argument("--out", type=Path, required=True, help="a new, empty data folder")
    parser.add_argument("--collection", default="abstracts")
    parser.add_argument("--limit", type=int, help="only the first N records (a trial run)")
    parser.add_argument("--resume", action="store_true", help="carry on into an --out a stopped rebuild left")
    parser.add_argument("--backend", default="minilm", help="the embedder the old folder was built with (tests use 'hashing')")
    parser.add_argument("corpus", nargs="*", type=Path, default=[DEFAULT_CORPUS], help="what was ingested into --home")
    args = parser.parse_args()
    if args.out.exists() and any(args.out.iterdir()) and not args.resume:
        sys.exit(f"{args.out} is not empty: rebuild into a new folder, or --resume a stopped rebuild")

    started = time.perf_counter()
    rows, vectors = load_stored(args.home, args.collection)
    print(f"read {len(rows):,} stored chunk vectors from {args.home} in {time.perf_counter() - started:.0f} s", flush=True)

    embedder = StoredVectorEmbedder(rows, vectors, make_embedder(args.backend))
    settings = Settings(home=args.out, corpus={"auto_index": False}, llm={"base_url": "", "api_key": ""})
    assistant = Assistant(settings, embedder=embedder)
    report = assistant.ingest(args.corpus, progress=True, limit=args.limit)
    print(f"ingested into {args.out}: {report.added:,} added, {report.unchanged:,} unchanged, {report.chunks:,} chunks, "
          f"{len(report.skipped)} skipped, {len(report.errors)} errors in {report.seconds:,.0f} s; "
          f"vectors reused {embedder.reused:,}, encoded {embedder.encoded:,}")
    print(f"total {time.perf_counter() - started:,.0f} s; now: python benchmarks/scale.py --home {args.out}")


if __name__ == "__main__":
    main()
