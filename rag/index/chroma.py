"""The Chroma side of the store: one collection of chunks, one of papers.

Chroma is the source of truth. The chunk collection holds what is searched (chunk text, its span, the
paper's filterable fields); the paper collection holds one record per paper: the abstract, the metadata,
the content hash that makes re-ingest idempotent, and as its vector the embedding of its own title and
abstract (the abstract view of retrieval, and the corpus map). The papers collection's metadata records
the model that made the vectors, so an index is never searched with another model's. A paper record is written after its chunks, so it marks the paper as complete: an
ingest killed half-way leaves at most chunks without a paper record, which the next run overwrites.

Embedded (`PersistentClient` under ``home``) and server (`HttpClient`) stores share every line below.
We call chromadb directly rather than through LlamaIndex's `ChromaVectorStore`: that class writes with
`add` (not idempotent, so a resumed ingest can't overwrite), copies each node into a JSON metadata field
(doubling the stored text), and can't store list metadata, which Chroma 1.x filters with ``$contains``.
We always pass vectors ourselves, so Chroma never loads its default (downloading) embedding function.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from rag.errors import StoreError
from rag.index.failures import failure_reason, guarded
from rag.index.filters import chroma_where
from rag.index.paper_extras import extras_from_metadata, extras_metadata
from rag.index.chroma_client import open_client, set_search_width
from rag.index.chunking import chunk_id
from rag.index.store_check import REBUILD
from rag.settings import Settings
from rag.types import Filters, Paper

log = logging.getLogger(__name__)


@dataclass
class ChunkSpan:
    """A stored chunk's text and its span in the abstract."""

    text: str
    start: int
    end: int


@dataclass
class StoredChunk:
    """A chunk as stored: its vector, its text and its span in the abstract."""

    chunk_id: str
    paper_id: str
    vector: np.ndarray
    text: str
    start: int
    end: int


def paper_metadata(paper: Paper, content_hash: str, chunk_count: int) -> dict:
    meta = {
        "paper_id": paper.paper_id,
        "title": paper.title,
        "date": paper.date_int,
        "date_text": paper.date,
        "url": paper.url,
        "hash": content_hash,
        "chunks": chunk_count,
    }
    # Chroma rejects None and empty lists; an absent key simply never matches a filter.
    if paper.authors:
        meta["authors"] = list(paper.authors)
    if paper.categories:
        meta["categories"] = list(paper.categories)
    meta.update(extras_metadata(paper))  # upvotes, link_github, ...: rag/index/paper_extras.py
    return meta


def paper_from_record(document: str, meta: dict) -> Paper:
    return Paper(
        paper_id=meta["paper_id"],
        title=meta["title"],
        abstract=document,
        authors=list(meta.get("authors") or []),
        date=meta.get("date_text", ""),
        categories=list(meta.get("categories") or []),
        url=meta.get("url", ""),
        **extras_from_metadata(meta),
    )


class ChromaStore:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        chroma = settings.chroma
        try:
            self.client, self.location = open_client(settings)
            config = {"hnsw": {"space": "cosine", "ef_search": chroma.ef_search}}
            self.chunks = self.client.get_or_create_collection(
                f"{chroma.collection}_chunks", embedding_function=None, configuration=config
            )
            self.papers = self.client.get_or_create_collection(
                f"{chroma.collection}_papers", embedding_function=None, configuration=config
            )
            for collection in (self.chunks, self.papers):
                set_search_width(collection, chroma.ef_search)
            self.batch_limit = max(1, min(self.client.get_max_batch_size(), 5000))
        except StoreError:
            raise
        except Exception as exc:  # chromadb raises many types; the user needs one clear message
            hint = ""
            if chroma.host:
                hint = (
                    " Check that the server runs and that RAG_CHROMA_TOKEN holds its token if it requires one."
                )
            reason = failure_reason(exc)
            if not chroma.host and reason.startswith("the data folder can't be written"):
                hint = " Chroma needs to write even to read; make the folder writable, or point RAG_HOME at one that is."
            raise StoreError(f"Can't open the Chroma store at {self._describe()}: {reason}.{hint}") from exc

    def failure(self, action: str, exc: BaseException) -> StoreError:
        reason = failure_reason(exc)
        if self.settings.chroma.host:
            hint = (
                f" Check that the Chroma server at {self.location} runs (RAG_CHROMA_HOST, RAG_CHROMA_PORT); "
                "the next request tries it again."
            )
        else:
            # Chroma reports a full disk as a failed compaction; say what is actually wrong.
            import shutil

            try:
                free_mb = shutil.disk_usage(self.settings.home).free / 1024 / 1024
            except OSError:
                free_mb = None
            disk_full = free_mb is not None and free_mb < max(64, self.settings.corpus.min_free_mb)
            if disk_full:
                reason += f"; the disk holding {self.settings.home} has only {free_mb:,.1f} MB free"
            if not disk_full and "hnsw" in reason.lower():
                hint = f" The index files in {self.location} look damaged. Nothing indexed was changed. {REBUILD}"
            else:
                hint = f" Nothing indexed before was removed; free space or fix the permissions of {self.settings.home} and try again."
        return StoreError(f"Couldn't {action} in the Chroma store: {reason}.{hint}")

    def _describe(self) -> str:
        c = self.settings.chroma
        return f"{c.host}:{c.port} (RAG_CHROMA_HOST/RAG_CHROMA_PORT)" if c.host else str(self.settings.home / "chroma")

    # --- writes ----------------------------------------------------------------------------------------

    def _batched(self, n: int) -> Iterator[slice]:
        for begin in range(0, n, self.batch_limit):
            yield slice(begin, min(n, begin + self.batch_limit))

    @guarded("write chunks")
    def upsert_chunks(self, ids: list[str], vectors: np.ndarray, documents: list[str], metadatas: list[dict]) -> None:
        for part in self._batched(len(ids)):
            self.chunks.upsert(
                ids=ids[part], embeddings=vectors[part], documents=documents[part], metadatas=metadatas[part]
            )

    @guarded("write papers")
    def upsert_papers(self, ids: list[str], vectors: np.ndarray, documents: list[str], metadatas: list[dict]) -> None:
        for part in self._batched(len(ids)):
            self.papers.upsert(
                ids=ids[part], embeddings=vectors[part], documents=documents[part], metadatas=metadatas[part]
            )

    @guarded("delete old chunks")
    def delete_chunks_of(self, paper_ids: Sequence[str]) -> None:
        for part in self._batched(len(paper_ids)):
            self.chunks.delete(where={"paper_id": {"$in": list(paper_ids[part])}})

    @guarded("delete papers")
    def delete_papers(self, paper_ids: Sequence[str]) -> None:
        """Remove papers entirely (chunks first, so a crash never leaves a paper without its chunks)."""
        self.delete_chunks_of(paper_ids)
        for part in self._batched(len(paper_ids)):
            self.papers.delete(ids=list(paper_ids[part]))

    # --- reads -----------------------------------------------------------------------------------------

    @guarded("read paper hashes")
    def hashes(self, paper_ids: Sequence[str]) -> dict[str, str]:
        """Content hash of each already-indexed paper among ``paper_ids``."""
        found: dict[str, str] = {}
        for part in self._batched(len(paper_ids)):
            got = self.papers.get(ids=list(paper_ids[part]), include=["metadatas"])
            for pid, meta in zip(got["ids"], got["metadatas"] or []):
                found[pid] = meta.get("hash", "")
        return found

    @guarded("read papers")
    def get_papers(self, paper_ids: Sequence[str]) -> dict[str, Paper]:
        papers: dict[str, Paper] = {}
        for part in self._batched(len(paper_ids)):
            got = self.papers.get(ids=list(paper_ids[part]), include=["documents", "metadatas"])
            for pid, doc, meta in zip(got["ids"], got["documents"] or [], got["metadatas"] or []):
                papers[pid] = paper_from_record(doc, meta)
        return papers

    def iter_papers(self, include_vectors: bool = False, page: int = 2000, where: dict | None = None) -> Iterator[tuple[Paper, dict, np.ndarray | None]]:
        """Every paper record, page by page: (paper, its metadata, its vector or None)."""
        include = ["documents", "metadatas"] + (["embeddings"] if include_vectors else [])
        offset = 0
        while True:
            try:
                got = self.papers.get(include=include, limit=page, offset=offset, where=where)
            except Exception as exc:
                raise self.failure("read papers", exc) from exc
            ids = got["ids"]
            if not ids:
                return
            vectors = got.get("embeddings") if include_vectors else None
            for i, (doc, meta) in enumerate(zip(got["documents"], got["metadatas"])):
                yield paper_from_record(doc, meta), meta, (np.asarray(vectors[i]) if vectors is not None else None)
            offset += len(ids)

    @guarded("read paper hashes")
    def all_hashes(self, page: int = 5000) -> dict[str, str]:
        found: dict[str, str] = {}
        offset = 0
        while True:
            got = self.papers.get(include=["metadatas"], limit=page, offset=offset)
            if not got["ids"]:
                return found
            for pid, meta in zip(got["ids"], got["metadatas"]):
                found[pid] = meta.get("hash", "")
            offset += len(got["ids"])

    @guarded("bring the Chroma store up to date")
    def settle(self) -> None:
        """Read both collections once, now, while the data folder can still be written.

        Embedded Chroma replays and prunes its write log on the first read of each collection in a process,
        and that read writes. Left to the first question after an ingest, it fails if the disk has since
        filled or the folder turned read-only, and every later read of that collection fails with it.
        """
        if not self.settings.chroma.host:
            self.papers.count()
            self.chunks.count()

    @guarded("count papers")
    def count(self) -> int:
        return self.papers.count()

    @guarded("count chunks")
    def count_chunks(self) -> int:
        return self.chunks.count()

    @guarded("search")
    def query_papers(self, vector: np.ndarray, n: int, filters: Filters | None = None) -> dict[str, float]:
        """The ``n`` papers whose own vectors (title + abstract) are closest: {paper id: cosine}."""
        got = self.papers.query(query_embeddings=[vector.tolist()], n_results=n, where=chroma_where(filters), include=["distances"])
        return {pid: 1.0 - float(dist) for pid, dist in zip(got["ids"][0], got["distances"][0])}

    @guarded("read paper vectors")
    def paper_vectors(self, paper_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Each paper's own vector (its title and abstract embedded)."""
        out: dict[str, np.ndarray] = {}
        for part in self._batched(len(paper_ids)):
            got = self.papers.get(ids=list(paper_ids[part]), include=["embeddings"])
            for pid, vec in zip(got["ids"], got["embeddings"]):
                out[pid] = np.asarray(vec, dtype=np.float32)
        return out

    @guarded("search")
    def nearest_chunks(self, vector: np.ndarray, n: int, filters: Filters | None = None) -> dict[str, float]:
        """The ``n`` chunks nearest the query vector: {chunk id: cosine}, nearest first.

        Ids and distances alone: reading each chunk's text and span back costs as much again as the search,
        and a retrieve shows only its top papers' best few chunks (`chunk_spans`).
        """
        # No count first: Chroma returns what there is when asked for more, and counting 300k chunks costs
        # more than the search itself.
        got = self.chunks.query(query_embeddings=[vector.tolist()], n_results=n, where=chroma_where(filters), include=["distances"])
        return {cid: 1.0 - float(dist) for cid, dist in zip(got["ids"][0], got["distances"][0])}

    def _chunk_ids_of(self, paper_ids: Sequence[str]) -> tuple[list[str], list[str]]:
        """(the chunk ids of the papers whose records count their chunks, the papers whose records don't)."""
        counts: dict[str, int] = {}
        for part in self._batched(len(paper_ids)):
            got = self.papers.get(ids=list(paper_ids[part]), include=["metadatas"])
            counts.update({pid: int(meta.get("chunks", -1)) for pid, meta in zip(got["ids"], got["metadatas"])})
        uncounted = [pid for pid, n in counts.items() if n < 0]  # a record without its count: filter instead
        return [chunk_id(pid, i) for pid, n in counts.items() for i in range(n)], uncounted

    def _chunks_get(self, paper_ids: Sequence[str], include: list[str]) -> Iterator[dict]:
        """Chroma's answers for every stored chunk of the papers, a batch at a time.

        Chunk ids are ``paper_id::n`` and each paper record counts its chunks, so the chunks are fetched by
        id: a metadata filter over every chunk took most of a search's time at 40k papers (317k chunks).
        """
        chunk_ids, uncounted = self._chunk_ids_of(paper_ids)
        for part in self._batched(len(chunk_ids)):
            yield self.chunks.get(ids=chunk_ids[part], include=include)
        for part in self._batched(len(uncounted)):
            yield self.chunks.get(where={"paper_id": {"$in": uncounted[part]}}, include=include)

    @guarded("read chunk vectors")
    def chunk_vectors(self, paper_ids: Sequence[str]) -> tuple[list[str], list[np.ndarray]]:
        """Every stored chunk of the papers as (ids, vectors): what scoring them against a query needs.
        Without their texts and spans, which take longer to read back than the vectors (`nearest_chunks`)."""
        ids: list[str] = []
        vectors: list[np.ndarray] = []
        for got in self._chunks_get(paper_ids, ["embeddings"]):
            ids.extend(got["ids"])
            vectors.extend(np.asarray(vec, dtype=np.float32) for vec in got["embeddings"])
        return ids, vectors

    @guarded("read chunks")
    def chunk_spans(self, chunk_ids: Sequence[str]) -> dict[str, ChunkSpan]:
        """The text and span of each chunk asked for that is stored (a chunk removed meanwhile is left out)."""
        out: dict[str, ChunkSpan] = {}
        for part in self._batched(len(chunk_ids)):
            got = self.chunks.get(ids=list(chunk_ids[part]), include=["documents", "metadatas"])
            for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"]):
                out[cid] = ChunkSpan(doc, int(meta["start"]), int(meta["end"]))
        return out

    @guarded("read sentence vectors")
    def chunk_vectors_of(self, paper_ids: Sequence[str]) -> list[StoredChunk]:
        """Every stored chunk of the given papers, with its vector, text and span."""
        return [row for got in self._chunks_get(paper_ids, ["embeddings", "documents", "metadatas"]) for row in self._chunk_rows(got)]

    @staticmethod
    def _chunk_rows(got: dict) -> list[StoredChunk]:
        return [
            StoredChunk(cid, meta["paper_id"], np.asarray(vec, dtype=np.float32), doc, int(meta["start"]), int(meta["end"]))
            for cid, vec, doc, meta in zip(got["ids"], got["embeddings"], got["documents"], got["metadatas"])
        ]

    @guarded("read the index generation")
    def generation(self) -> int:
        """A counter bumped after every completed ingest; other indexes use it to know they are current."""
        meta = self.papers.metadata or {}
        return int(meta.get("generation", 0))

    @guarded("read the ingest state")
    def ingest_unfinished(self) -> bool:
        """True when an ingest started and did not finish (killed, crashed): its papers may have chunks
        without a paper record, which a resumed run must clear before writing the paper anew."""
        return bool((self.chunks.metadata or {}).get("ingesting", 0))

    @guarded("record the ingest state")
    def mark_ingesting(self, running: bool) -> None:
        self.chunks.modify(metadata={"ingesting": int(running)})

    @guarded("record the finished ingest")
    def bump_generation(self) -> int:
        value = self.generation() + 1
        self.papers.modify(metadata={**(self.papers.metadata or {}), "generation": value})
        return value

    # --- what made the vectors ------------------------------------------------------------------------

    @property
    def embedder_name(self) -> str:
        """The model whose vectors this index holds ("" for an index from before it was recorded)."""
        return str((self.papers.metadata or {}).get("embedder", ""))

    @property
    def abstract_vectors(self) -> bool:
        """Whether every paper record's vector is its abstract's own embedding (indexes built before that
        was so hold the mean of the paper's chunk vectors, and are searched without the abstract view)."""
        return (self.papers.metadata or {}).get("paper_vector") == "abstract"

    @guarded("record the model of the index")
    def claim_vectors(self, embedder: str) -> None:
        """Before an ingest writes vectors: refuse to mix two models' vectors in one index; record ours."""
        self.check_embedder(embedder)
        meta = dict(self.papers.metadata or {})
        if meta.get("embedder") == embedder and "paper_vector" in meta:
            return
        meta["embedder"] = embedder
        if "paper_vector" not in meta:
            # Only an empty index becomes an "abstract" one: an older index keeps its mean vectors.
            meta["paper_vector"] = "abstract" if self.papers.count() == 0 else "chunk-mean"
        self.papers.modify(metadata=meta)

    def check_embedder(self, embedder: str) -> None:
        """`StoreError` when the index holds another model's vectors: searching them with ours finds nonsense."""
        recorded = self.embedder_name
        if recorded and recorded != embedder:
            raise StoreError(
                f"The index in {self._describe()} holds vectors made by {recorded!r}, but the assistant is set to embed "
                f"with {embedder!r}. Use the same model (RAG_EMBEDDING_BACKEND), or point RAG_HOME (or "
                "RAG_CHROMA_COLLECTION) at a new index and ingest your corpus there."
            )
