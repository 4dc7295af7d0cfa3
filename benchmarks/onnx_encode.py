"""MiniLM through ONNX Runtime beside the shipped torch encode: the same vectors? how much faster?

    pip install onnx      # for the export only (onnxruntime itself comes with chromadb)
    python benchmarks/onnx_encode.py --papers 400

Exports the bundled all-MiniLM-L6-v2 to ONNX (torch.onnx.export, eager attention, traced with a padded
batch so the attention mask stays an input of the graph), then encodes the sentence chunks of the first
``--papers`` arXiv abstracts both ways, with the same tokenisation, batching and mean pooling, and prints
the wall time of each and the cosine between the two vectors of every chunk. Not used by the product yet.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.chunking import chunk_paper, embedding_text  # noqa: E402
from rag.corpus import read_corpus  # noqa: E402
from rag.embedding import BATCH_TOKENS_PER_TEXT, make_embedder, model_dir, token_budget_batches  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.types import Paper  # noqa: E402


def export(path: Path) -> None:
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_dir()), local_files_only=True, attn_implementation="eager").eval()

    class Hidden(torch.nn.Module):
        def __init__(self, bert) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state

    ids = torch.ones((2, 16), dtype=torch.long)
    mask = torch.ones_like(ids)
    mask[1, 8:] = 0  # a padded row: the mask must stay a real input of the graph
    names = ["input_ids", "attention_mask", "token_type_ids"]
    torch.onnx.export(
        Hidden(model), (ids, mask, torch.zeros_like(ids)), str(path), input_names=names, output_names=["hidden"],
        dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "hidden"]}, opset_version=17, dynamo=False,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("../shared/data/arxiv/sample_5000.jsonl"))
    parser.add_argument("--papers", type=int, default=400)
    args = parser.parse_args()

    import onnxruntime

    embedder = make_embedder("minilm").load()
    chunking = Settings(corpus={"auto_index": False}).chunking
    texts = []
    for i, paper in enumerate(read_corpus(args.corpus)):
        if i >= args.papers:
            break
        if isinstance(paper, Paper):
            for chunk in chunk_paper(paper, embedder.count_tokens, chunking.max_tokens, chunking.overlap_sentences, chunking.max_sentences):
                texts.append(embedding_text(paper.title, chunk.text))

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "minilm.onnx"
        started = time.perf_counter()
        export(path)
        exported = time.perf_counter() - started
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = os.cpu_count() or 1
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

        def onnx_encode(batch_texts: list[str]) -> np.ndarray:
            encodings = embedder._tokenizer.encode_batch(batch_texts)
            lengths = [len(e.ids) for e in encodings]
            out = np.zeros((len(batch_texts), embedder.dimensions), dtype=np.float32)
            for batch in token_budget_batches(lengths, embedder.batch_size * BATCH_TOKENS_PER_TEXT, embedder.max_batch):
                width = max(lengths[i] for i in batch)
                ids = np.zeros((len(batch), width), dtype=np.int64)
                mask = np.zeros_like(ids)
                for row, i in enumerate(batch):
                    ids[row, : lengths[i]] = encodings[i].ids
                    mask[row, : lengths[i]] = 1
                hidden = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
                weights = mask[..., None].astype(np.float32)
                pooled = (hidden * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)
                out[batch] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
            return out

        embedder.encode(texts[:32])
        onnx_encode(texts[:32])  # warm-up, both
        started = time.perf_counter()
        torch_vectors = embedder.encode(texts)
        torch_seconds = time.perf_counter() - started
        started = time.perf_counter()
        onnx_vectors = onnx_encode(texts)
        onnx_seconds = time.perf_counter() - started
    cosines = (torch_vectors * onnx_vectors).sum(1)
    print(f"load average {os.getloadavg()[0]:.1f}; {len(texts):,} chunk texts of {args.papers} abstracts; export {exported:.1f} s")
    print(f"torch (shipped): {torch_seconds:.1f} s ({len(texts) / torch_seconds:.0f} chunks/s)")
    print(f"ONNX Runtime:    {onnx_seconds:.1f} s ({len(texts) / onnx_seconds:.0f} chunks/s): {torch_seconds / onnx_seconds:.2f}x")
    print(f"cosine torch vs ONNX per chunk: min {cosines.min():.6f}, mean {cosines.mean():.6f}")


if __name__ == "__main__":
    main()
