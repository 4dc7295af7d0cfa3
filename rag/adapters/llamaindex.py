"""Our embedder and retriever behind LlamaIndex's interfaces, so they plug into LlamaIndex pipelines.

    from llama_index.core.query_engine import RetrieverQueryEngine
    engine = RetrieverQueryEngine.from_args(assistant.as_retriever(k=5), llm=...)
    embed_model = assistant.as_llamaindex_embedding()

Imported only when asked for: importing LlamaIndex costs ~2 s, which the CLI should not pay.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from pydantic import PrivateAttr

from rag.types import Hit

if TYPE_CHECKING:  # only for annotations: the adapter sits above the index and beside nothing else
    from rag.index.embedding import Embedder


class LlamaIndexEmbedding(BaseEmbedding):
    """Any `rag.index.embedding.Embedder` as a LlamaIndex embedding model."""

    _embedder: Any = PrivateAttr()

    @classmethod
    def wrap(cls, embedder: "Embedder", batch_size: int = 64) -> "LlamaIndexEmbedding":
        instance = cls(model_name=embedder.name, embed_batch_size=batch_size)
        instance._embedder = embedder
        return instance

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embedder.encode([query])[0].tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embedder.encode([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.encode(texts).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embedding(text)


class HitsRetriever(BaseRetriever):
    """Any ``retrieve(query, k) -> list[Hit]`` as a LlamaIndex retriever: one node per paper (its best
    chunk, cited by title). `Assistant.as_retriever` passes its own `retrieve`."""

    def __init__(self, retrieve: Callable[..., list[Hit]], k: int = 5, **kwargs: Any) -> None:
        self._retrieve_hits = retrieve
        self._k = k
        super().__init__(**kwargs)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        nodes = []
        for hit in self._retrieve_hits(query_bundle.query_str, k=self._k):
            best = hit.chunks[0] if hit.chunks else None
            node = TextNode(
                id_=f"{hit.paper_id}::{best.start if best else 0}",
                text=best.text if best else hit.abstract,
                metadata={"paper_id": hit.paper_id, "title": hit.title, "url": hit.url, "date": hit.date},
                start_char_idx=best.start if best else None,
                end_char_idx=best.end if best else None,
            )
            nodes.append(NodeWithScore(node=node, score=hit.score))
        return nodes
