"""The bundled MiniLM, run without sentence-transformers, gives sentence-transformers' vectors."""

from __future__ import annotations

import numpy as np

from rag.index.embedding import HashingEmbedder, MiniLMEmbedder, model_dir

TEXTS = [
    "Online orthogonal dictionary learning based on the Frank-Wolfe method.",
    "φ^3 QFT out of equilibrium; Schrödinger bridges.",
    "short",
    "A much longer text " * 40,
]


def test_minilm_matches_sentence_transformers():
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(model_dir()), device="cpu").encode(TEXTS, normalize_embeddings=True)
    ours = MiniLMEmbedder(batch_size=2).encode(TEXTS)
    assert ours.shape == (4, 384) and ours.dtype == np.float32
    cosines = np.sum(ours * reference, axis=1)
    assert np.all(cosines > 0.9999), cosines


def test_minilm_vectors_are_unit_length_and_meaningful():
    vectors = MiniLMEmbedder().encode(["quantization of neural networks", "low-bit model compression", "black hole seismology"])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


def test_hashing_embedder_is_deterministic_and_unit_length():
    first, again = HashingEmbedder().encode(["a b c", ""]), HashingEmbedder().encode(["a b c", ""])
    assert np.array_equal(first, again)
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0)


def test_llamaindex_interface():
    from rag.adapters.llamaindex import LlamaIndexEmbedding

    embedding = LlamaIndexEmbedding.wrap(HashingEmbedder())
    vector = embedding.get_text_embedding("state space models")
    assert len(vector) == 384
    assert np.allclose(vector, HashingEmbedder().encode(["state space models"])[0], atol=1e-6)
    assert len(embedding.get_query_embedding("what is S4?")) == 384


def test_token_budget_batches_cover_every_text_once_within_budget():
    from rag.index.embedding import token_budget_batches

    lengths = [5, 200, 12, 12, 40, 3, 90, 7] * 20
    batches = token_budget_batches(lengths, budget=256, max_batch=16)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    for batch in batches:
        padded = len(batch) * max(lengths[i] for i in batch)
        assert len(batch) == 1 or padded <= 256
        assert len(batch) <= 16
    # Short texts share big batches; a long one is not padded together with them.
    assert max(len(b) for b in batches) == 16 and any(len(b) == 1 for b in batches)


def test_vectors_do_not_depend_on_how_texts_are_batched():
    texts = TEXTS * 3 + ["Title: one sentence of an abstract."] * 5
    one_by_one = MiniLMEmbedder(batch_size=1).encode(texts)
    together = MiniLMEmbedder(batch_size=64).encode(texts)
    assert np.allclose(one_by_one, together, atol=1e-5)
