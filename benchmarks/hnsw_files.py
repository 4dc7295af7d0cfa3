"""Read an embedded store's chunk vectors straight from Chroma's files, for a data folder Chroma can't open.

    python benchmarks/hnsw_files.py --home /data/arxiv115k

Chroma 1.5.9 can crash (SIGSEGV) loading a damaged HNSW segment (BENCHMARKS.md, "The full 115k"). This
reads, without Chroma and read-only: the HNSW header and ``data_level0.bin`` (each element: its links, its
vector, its label), ``index_metadata.pickle`` (label -> chunk id), and the SQLite metadata segment (chunk
texts, each paper's announced chunk count). It prints whether every chunk the papers announce has a vector
under its id, and how close a sample of stored vectors is to a fresh encode of the same chunk texts: what
a rebuild of the segment from these files could rely on.
"""

from __future__ import annotations

import argparse
import os
import pickle
import random
import sqlite3
import struct
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

# hnswlib's header as Chroma persists it: a version, then the fields of hnswlib's saveIndex.
HEADER = struct.Struct("<iQQQQQQiIQQQdQ")


def read_header(folder: Path) -> dict:
    fields = HEADER.unpack(folder.joinpath("header.bin").read_bytes()[: HEADER.size])
    names = ["version", "offset_level0", "max_elements", "count", "size_per_element", "label_offset",
             "offset_data", "max_level", "entry_point", "max_m", "max_m0", "m", "mult", "ef_construction"]
    return dict(zip(names, fields))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--collection", default="abstracts")
    parser.add_argument("--sample", type=int, default=200, help="stored vectors compared with a fresh encode")
    args = parser.parse_args()

    db = sqlite3.connect(f"file:{args.home / 'chroma' / 'chroma.sqlite3'}?mode=ro", uri=True)
    segments = {
        (name, scope): seg
        for seg, scope, name in db.execute(
            "select s.id, s.scope, c.name from segments s join collections c on c.id = s.collection"
        )
    }
    chunks_name, papers_name = f"{args.collection}_chunks", f"{args.collection}_papers"
    folder = args.home / "chroma" / segments[(chunks_name, "VECTOR")]
    header = read_header(folder)
    count, size = header["count"], header["size_per_element"]
    level0 = folder / "data_level0.bin"
    print(f"{folder.name}: {count:,} elements of {size:,} bytes (max {header['max_elements']:,}); "
          f"data_level0.bin {level0.stat().st_size:,} bytes ({'exactly' if level0.stat().st_size == count * size else 'NOT'} that)")
    for name in ("data_level0.bin", "link_lists.bin", "length.bin", "index_metadata.pickle"):
        stat = (folder / name).stat()
        print(f"  {name}: {stat.st_size:,} bytes long, {stat.st_blocks * 512:,} on disk")

    meta = pickle.loads((folder / "index_metadata.pickle").read_bytes())
    label_to_id = meta["label_to_id"]
    # Chroma's Rust writer leaves "dimensionality" as None; the element layout gives it.
    dim = meta.get("dimensionality") or (header["label_offset"] - header["offset_data"]) // 4
    elements = np.memmap(level0, dtype=np.uint8, mode="r", shape=(count, size))
    labels = elements[:, header["label_offset"]:header["label_offset"] + 8].copy().view("<u8").ravel()
    known = sum(int(label) in label_to_id for label in labels)
    print(f"labels: {len(set(labels.tolist())):,} distinct of {count:,}; {known:,} map to a chunk id "
          f"(the map holds {len(label_to_id):,}; it records {meta.get('total_elements_added', 0):,} elements added)")

    # What the metadata segment says should be there: every paper's chunk count, every chunk's text.
    papers_meta = segments[(papers_name, "METADATA")]
    announced = db.execute(
        "select sum(m.int_value) from embedding_metadata m join embeddings e on e.id = m.id "
        "where e.segment_id = ? and m.key = 'chunks'", (papers_meta,)).fetchone()[0]
    chunks_meta = segments[(chunks_name, "METADATA")]
    stored_texts = db.execute("select count(*) from embeddings where segment_id = ?", (chunks_meta,)).fetchone()[0]
    ids_with_vectors = {label_to_id[int(label)] for label in labels if int(label) in label_to_id}
    # Writes not yet flushed into the HNSW files wait in Chroma's log, keyed by the collection's id.
    collection_id = db.execute("select id from collections where name = ?", (chunks_name,)).fetchone()[0]
    queued = db.execute("select count(*) from embeddings_queue where topic like ?", (f"%/{collection_id}",)).fetchone()[0]
    print(f"papers announce {announced:,} chunks; the metadata segment holds {stored_texts:,} chunk texts; "
          f"vectors under {len(ids_with_vectors):,} distinct chunk ids in the HNSW files, {queued:,} writes in Chroma's log")

    # A sample of stored vectors against a fresh encode of their chunk texts (title + sentence).
    from rag.chunking import embedding_text
    from rag.embedding import make_embedder

    rng = random.Random(0)
    rows = rng.sample(range(count), min(args.sample, count))
    texts, vectors = [], []
    for row in rows:
        chunk_id = label_to_id.get(int(labels[row]))
        if chunk_id is None:
            continue
        found = db.execute(
            "select m.string_value from embedding_metadata m join embeddings e on e.id = m.id "
            "where e.segment_id = ? and e.embedding_id = ? and m.key = 'chroma:document'", (chunks_meta, chunk_id)).fetchone()
        title = db.execute(
            "select m.string_value from embedding_metadata m join embeddings e on e.id = m.id "
            "where e.segment_id = ? and e.embedding_id = ? and m.key = 'title'", (papers_meta, chunk_id.split("::")[0])).fetchone()
        if not found or not title:
            continue
        texts.append(embedding_text(title[0], found[0]))
        start = header["offset_data"]
        vectors.append(elements[row, start:start + 4 * dim].copy().view("<f4"))
    fresh = make_embedder().encode(texts)
    stored = np.asarray(vectors)
    stored /= np.linalg.norm(stored, axis=1, keepdims=True)
    fresh = fresh / np.linalg.norm(fresh, axis=1, keepdims=True)
    cosine = (stored * fresh).sum(axis=1)
    print(f"{len(texts)} sampled vectors against a fresh encode of their texts: cosine min {cosine.min():.6f}, "
          f"median {np.median(cosine):.6f}")


if __name__ == "__main__":
    main()
