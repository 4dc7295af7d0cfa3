"""Chunk vectors read back from an embedded store's files, for rebuilding an index Chroma can't open.

Embedding is nearly all of an ingest's cost (hours at 100k abstracts here). When a folder's HNSW files are
damaged (`rag.index.store_check`), its vectors usually are not: each element of ``data_level0.bin`` holds one
vector and its label, and ``index_metadata.pickle`` maps labels to chunk ids. `rag ingest --vectors-from
OLD_FOLDER FILES` re-runs an ordinary ingest into a fresh folder, taking each chunk's vector from here when
the old folder holds one for exactly the same text (title + chunk, `rag.index.chunking.embedding_text`) and
encoding only the rest. Everything else is the normal ingest, so the result is what an uninterrupted
ingest would have built.

This reads Chroma 1.5's on-disk layout directly (hnswlib's persisted index and Chroma's SQLite tables),
read-only and without Chroma; `python -m benchmarks.forensics.hnsw_files` uses it to diagnose a folder.
"""

from __future__ import annotations

import io
import pickle
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.index.embedding import Embedder
from rag.errors import StoreError
from rag.index.store_check import read_header


class _DataOnlyUnpickler(pickle.Unpickler):
    # The label map is plain dicts of ints and strings; refusing every class keeps a crafted file from
    # running code when it is read.
    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"unexpected object {module}.{name} in the label map")


class StoredChunks:
    """An embedded store's chunk segment as its files hold it, opened read-only and without Chroma."""

    def __init__(self, home: Path, collection: str = "abstracts") -> None:
        database = home / "chroma" / "chroma.sqlite3"
        if not database.is_file():
            raise StoreError(f"{home} holds no embedded Chroma store ({database} is missing)")
        self.db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        segments = {
            (name, scope): seg
            for seg, scope, name in self.db.execute(
                "select s.id, s.scope, c.name from segments s join collections c on c.id = s.collection"
            )
        }
        self.chunks_name, self.papers_name = f"{collection}_chunks", f"{collection}_papers"
        try:
            self.chunks_meta = segments[(self.chunks_name, "METADATA")]
            self.papers_meta = segments[(self.papers_name, "METADATA")]
            self.folder = home / "chroma" / segments[(self.chunks_name, "VECTOR")]
        except KeyError:
            raise StoreError(f"{home} has no '{collection}' collections (RAG_CHROMA_COLLECTION)") from None
        self.header = read_header(self.folder)
        self.size = self.header["size_per_element"]
        # A save cut short can leave fewer elements on disk than the header counts: read what is there.
        self.count = min(self.header["count"], (self.folder / "data_level0.bin").stat().st_size // self.size)
        self.meta = _DataOnlyUnpickler(io.BytesIO((self.folder / "index_metadata.pickle").read_bytes())).load()
        self.label_to_id = self.meta["label_to_id"]
        # Chroma's Rust writer leaves "dimensionality" as None; the element layout gives it.
        self.dim = self.meta.get("dimensionality") or (self.header["label_offset"] - self.header["offset_data"]) // 4
        self.elements = np.memmap(self.folder / "data_level0.bin", dtype=np.uint8, mode="r", shape=(self.count, self.size))
        offset = self.header["label_offset"]
        self.labels = self.elements[:, offset:offset + 8].copy().view("<u8").ravel()

    def vector(self, row: int) -> np.ndarray:
        start = self.header["offset_data"]
        return self.elements[row, start:start + 4 * self.dim].copy().view("<f4")

    def rows_by_id(self) -> dict[str, int]:
        """Chunk id -> the element holding its vector (the last one, where a label appears twice)."""
        rows: dict[str, int] = {}
        for row, label in enumerate(self.labels.tolist()):
            chunk_id = self.label_to_id.get(label)
            if chunk_id is not None:
                rows[chunk_id] = row
        return rows

    def texts(self, segment: str, key: str) -> dict[str, str]:
        """Record id -> one string field of every record in a metadata segment."""
        return dict(self.db.execute(
            "select e.embedding_id, m.string_value from embedding_metadata m join embeddings e on e.id = m.id "
            "where e.segment_id = ? and m.key = ?", (segment, key)))

    def embedding_texts(self) -> dict[str, str]:
        """Chunk id -> the text its vector was computed from (title + chunk, `rag.index.chunking.embedding_text`)."""
        from rag.index.chunking import embedding_text

        titles = self.texts(self.papers_meta, "title")
        return {
            chunk_id: embedding_text(titles[chunk_id.split("::")[0]], document)
            for chunk_id, document in self.texts(self.chunks_meta, "chroma:document").items()
            if chunk_id.split("::")[0] in titles
        }

    def vectors_by_text(self) -> tuple[dict[str, int], np.ndarray]:
        """Embedding text -> row of an array holding every chunk vector these files hold for a known text."""
        rows_by_id = self.rows_by_id()
        texts = self.embedding_texts()
        ids = [chunk_id for chunk_id in rows_by_id if chunk_id in texts]
        vectors = np.empty((len(ids), self.dim), dtype=np.float32)
        start = self.header["offset_data"]
        for begin in range(0, len(ids), 50_000):  # a block of the memmap at a time, not row by row
            part = ids[begin:begin + 50_000]
            block = self.elements[[rows_by_id[c] for c in part], start:start + 4 * self.dim]
            vectors[begin:begin + len(part)] = np.ascontiguousarray(block).view("<f4")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors /= np.where(norms > 0, norms, 1)  # stored normalised for cosine; exact unit length again
        return {texts[chunk_id]: row for row, chunk_id in enumerate(ids)}, vectors


def salvage(home: Path, collection: str = "abstracts") -> tuple[dict[str, int], np.ndarray]:
    """`StoredChunks.vectors_by_text` of ``home``, with any failure to read it said plainly."""
    try:
        return StoredChunks(home, collection).vectors_by_text()
    except StoreError:
        raise
    except Exception as exc:  # sqlite, pickle, numpy and the OS each raise their own
        raise StoreError(
            f"Can't read the vectors stored in {home} ({exc.__class__.__name__}: {exc}). Ingest without "
            "--vectors-from: every chunk is then embedded again."
        ) from exc


class SalvagedEmbedder(Embedder):
    """Vectors by exact text from an old folder's files; the real model for any text not among them."""

    def __init__(self, rows: dict[str, int], vectors: np.ndarray, model: Embedder) -> None:
        self.rows, self.vectors, self.model = rows, vectors, model
        self.name = model.name  # the vectors it returns are that model's, stored or fresh
        self.dimensions = model.dimensions
        self.reused = self.encoded = 0

    @property
    def count_tokens(self):  # chunking must count word pieces exactly as the original ingest did
        return self.model.count_tokens

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dimensions), dtype=np.float32)
        missing = []
        for i, text in enumerate(texts):
            row = self.rows.get(text)
            if row is None:
                missing.append(i)
            else:
                out[i] = self.vectors[row]
        if missing:
            out[missing] = self.model.encode([texts[i] for i in missing])
        self.reused += len(texts) - len(missing)
        self.encoded += len(missing)
        return out
