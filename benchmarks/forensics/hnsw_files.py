"""Read an embedded store's chunk vectors straight from Chroma's files, for a data folder Chroma can't open.

    python -m benchmarks.forensics.hnsw_files --home DATA_FOLDER [--tag 115k]

Chroma 1.5.9 can crash (SIGSEGV) loading a damaged HNSW segment (BENCHMARKS.md, "The full 115k"). This
reads, without Chroma and read-only: the HNSW header and ``data_level0.bin`` (each element: its links, its
vector, its label), ``index_metadata.pickle`` (label -> chunk id), and the SQLite metadata segment (chunk
texts, each paper's announced chunk count). It prints whether every chunk the papers announce has a vector
under its id, and how close a sample of stored vectors is to a fresh encode of the same chunk texts: what
a rebuild of the segment from these files could rely on (what `rag ingest --vectors-from` now does, with
`rag.index.salvage`). The figures go to benchmarks/results/forensics/hnsw-files[-TAG].json.
"""

from __future__ import annotations

import argparse
import os
import random
import struct
from pathlib import Path

import numpy as np

from benchmarks.common import add_results_arguments, write_results
from rag.index.salvage import StoredChunks


def data_extents(path: Path) -> list[tuple[int, int]]:
    """The (start, end) byte ranges of a sparse file that hold data; the rest are holes that read as zeros."""
    extents = []
    fd = os.open(path, os.O_RDONLY)
    try:
        size, offset = os.fstat(fd).st_size, 0
        while offset < size:
            try:
                start = os.lseek(fd, offset, os.SEEK_DATA)
            except OSError:  # no data after offset
                break
            offset = os.lseek(fd, start, os.SEEK_HOLE)
            extents.append((start, offset))
    finally:
        os.close(fd)
    return extents


def upper_levels(path: Path, count: int, size_links: int) -> tuple[np.ndarray, int, int]:
    """As a loader reading ``link_lists.bin`` front to back sees it (hnswlib's layout: per element a u32 byte
    size, then one list per level above 0: a u32 count and the neighbours' u32 ids): each element's number of
    levels above 0, where the read ends, and how many upper-level links point at an element that, read so,
    has no list at that level (a search following such a link reads a list that isn't there)."""
    levels = np.zeros(count, dtype=np.int32)
    with path.open("rb") as handle:
        data = handle.read(count * 4 + count * size_links)  # a bound, never the sparse file's full length
    offset, links = 0, []
    for element in range(count):
        if offset + 4 > len(data):
            break  # sizes that don't add up: the rest stays at level 0
        size = struct.unpack_from("<I", data, offset)[0]
        if offset + 4 + size > len(data):
            break  # a size running past what can be there: garbage from here on
        levels[element] = size // size_links
        for level in range(levels[element]):
            start = offset + 4 + level * size_links
            n = struct.unpack_from("<I", data, start)[0] & 0xFFFF
            links.extend((neighbour, level + 1) for neighbour in struct.unpack_from(f"<{n}I", data, start + 4))
        offset += 4 + size
    dangling = sum(1 for neighbour, level in links if neighbour >= count or levels[neighbour] < level)
    return levels, offset, dangling


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--collection", default="abstracts")
    parser.add_argument("--sample", type=int, default=200, help="stored vectors compared with a fresh encode")
    add_results_arguments(parser)
    args = parser.parse_args()

    files = StoredChunks(args.home, args.collection)
    header, count, size, folder = files.header, files.count, files.size, files.folder
    level0 = folder / "data_level0.bin"
    announced = header["count"]
    print(f"{folder.name}: {announced:,} elements of {size:,} bytes (max {header['max_elements']:,}); "
          f"data_level0.bin {level0.stat().st_size:,} bytes ({'exactly' if level0.stat().st_size == announced * size else 'NOT'} that"
          f"{'' if count == announced else f'; it holds {count:,}'})")
    for name in ("data_level0.bin", "link_lists.bin", "length.bin", "index_metadata.pickle"):
        stat = (folder / name).stat()
        print(f"  {name}: {stat.st_size:,} bytes long, {stat.st_blocks * 512:,} on disk")

    # Chroma's fork of hnswlib keeps each vector's norm in length.bin (0 for a deleted element).
    norms = np.fromfile(folder / "length.bin", dtype="<f4")
    deleted = int(((files.elements[:, 2] & 1) > 0).sum())  # hnswlib's delete mark, in the level-0 list header
    print(f"length.bin: {len(norms):,} vector norms, {int((norms == 0).sum()):,} zero; {deleted:,} elements marked deleted")
    links = folder / "link_lists.bin"
    extents = data_extents(links)
    print("link_lists.bin holds data at bytes " + ", ".join(f"{a:,}..{b:,}" for a, b in extents) + "; holes elsewhere")
    size_links = header["max_m"] * 4 + 4
    levels, end, dangling = upper_levels(links, header["count"], size_links)
    entry = header["entry_point"]
    last_data = extents[0][1] if extents else 0
    print(f"read front to back, its {header['count']:,} link-list entries end at byte {end:,}"
          f"{f' (past the first data range, {last_data:,}: the rest read as zeros)' if end > last_data else ''}; "
          f"levels above 0 per element {np.bincount(levels).tolist()}; the entry point {entry:,} has "
          f"{levels[entry]} (the header's top level is {header['max_level']}); {dangling:,} upper-level links point at "
          "an element without a list at that level")

    labels, label_to_id = files.labels, files.label_to_id
    known = sum(int(label) in label_to_id for label in labels)
    print(f"labels: {len(set(labels.tolist())):,} distinct of {count:,}; {known:,} map to a chunk id "
          f"(the map holds {len(label_to_id):,}; it records {files.meta.get('total_elements_added', 0):,} elements added)")

    # What the metadata segment says should be there: every paper's chunk count, every chunk's text.
    db = files.db
    announced = db.execute(
        "select sum(m.int_value) from embedding_metadata m join embeddings e on e.id = m.id "
        "where e.segment_id = ? and m.key = 'chunks'", (files.papers_meta,)).fetchone()[0]
    stored_texts = db.execute("select count(*) from embeddings where segment_id = ?", (files.chunks_meta,)).fetchone()[0]
    rows = files.rows_by_id()
    # Writes not yet flushed into the HNSW files wait in Chroma's log, keyed by the collection's id.
    collection_id = db.execute("select id from collections where name = ?", (files.chunks_name,)).fetchone()[0]
    queued = db.execute("select count(*) from embeddings_queue where topic like ?", (f"%/{collection_id}",)).fetchone()[0]
    print(f"papers announce {announced:,} chunks; the metadata segment holds {stored_texts:,} chunk texts; "
          f"vectors under {len(rows):,} distinct chunk ids in the HNSW files, {queued:,} writes in Chroma's log")

    # A sample of stored vectors against a fresh encode of their chunk texts (title + sentence).
    from rag.index.embedding import make_embedder

    texts_by_id = files.embedding_texts()
    sample = random.Random(0).sample(sorted(set(rows) & set(texts_by_id)), min(args.sample, len(rows)))
    stored = np.asarray([files.vector(rows[chunk_id]) for chunk_id in sample])
    fresh = make_embedder().encode([texts_by_id[chunk_id] for chunk_id in sample])
    stored /= np.linalg.norm(stored, axis=1, keepdims=True)
    fresh = fresh / np.linalg.norm(fresh, axis=1, keepdims=True)
    cosine = (stored * fresh).sum(axis=1)
    print(f"{len(sample)} sampled vectors against a fresh encode of their texts: cosine min {cosine.min():.6f}, "
          f"median {np.median(cosine):.6f}")
    write_results("hnsw-files", {
        "segment": folder.name,
        "header": {"count": header["count"], "max_elements": header["max_elements"], "max_level": header["max_level"],
                   "entry_point": header["entry_point"], "size_per_element": size},
        "file_bytes": {name: {"length": (folder / name).stat().st_size, "on_disk": (folder / name).stat().st_blocks * 512}
                       for name in ("data_level0.bin", "link_lists.bin", "length.bin", "index_metadata.pickle")},
        "elements_in_level0": count,
        "marked_deleted": deleted,
        "link_lists_data_extents": extents,
        "link_lists_read_ends_at": end,
        "levels_above_0": np.bincount(levels).tolist(),
        "dangling_upper_links": dangling,
        "labels_distinct": len(set(labels.tolist())),
        "labels_mapped_to_chunk_ids": known,
        "chunks_announced": announced,
        "chunk_texts_stored": stored_texts,
        "chunk_ids_with_vectors": len(rows),
        "writes_in_log": queued,
        "sample_cosine": {"n": len(sample), "min": round(float(cosine.min()), 6), "median": round(float(np.median(cosine)), 6)},
    }, args)


if __name__ == "__main__":
    main()
