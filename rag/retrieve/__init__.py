"""Retrieval: dense, lexical and fused (`retriever`), the fusion itself a pure function (`fusion`)."""
