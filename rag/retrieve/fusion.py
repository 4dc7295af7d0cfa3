"""Fusing the dense and the lexical ranking into one: pure functions over {paper id: score}.

Named as LlamaIndex's fusion retrievers name theirs:

- ``relative_score`` (the default): each side min-max normalised over the candidates, then a weighted sum.
- ``dist_based_score``: each side z-scored (by its mean and spread over the candidates), then a weighted sum.
- ``reciprocal_rank``: 1/(60 + rank) on each side, weighted; scores ignored.

Measured in BENCHMARKS.md ("Evaluation: SciFact", "Chunking and fusion weight"): on the SciFact train claims
z-scoring bought nothing over min-max (best 0.7495 against 0.7527 nDCG@10), and the dense weight's optimum is
flat around 0.6 there and on our dev questions. Reciprocal-rank fusion of ours has not been measured (the
one RRF figure there is the published BM25 + bge-base one); it is kept for comparison. Every candidate must
be scored on both sides before fusing (the retriever does that): a paper missing from one side is not a zero there.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

FusionMode = Literal["relative_score", "dist_based_score", "reciprocal_rank"]
RRF_K = 60


def minmax(values: dict[str, float]) -> dict[str, float]:
    if not values:
        return {}
    low, high = min(values.values()), max(values.values())
    if high - low < 1e-9:
        return {key: (1.0 if high > 0 else 0.0) for key in values}
    return {key: (value - low) / (high - low) for key, value in values.items()}


def zscore(values: dict[str, float]) -> dict[str, float]:
    if not values:
        return {}
    arr = np.fromiter(values.values(), dtype=np.float64)
    mean, std = float(arr.mean()), float(arr.std())
    return {key: (value - mean) / std if std > 1e-9 else 0.0 for key, value in values.items()}


def reciprocal_ranks(values: dict[str, float]) -> dict[str, float]:
    order = sorted(values, key=lambda key: (-values[key], key))
    return {key: 1.0 / (RRF_K + rank) for rank, key in enumerate(order, start=1)}


_NORMALISE = {"relative_score": minmax, "dist_based_score": zscore, "reciprocal_rank": reciprocal_ranks}


def fuse_views(views: dict[str, dict[str, float]], weights: dict[str, float], mode: FusionMode = "relative_score") -> dict[str, float]:
    """One score per candidate: the weighted sum of each view's normalised scores.

    A view given all the weight is returned as it is (raw scores, nothing normalised); views of weight 0
    take no part.
    """
    used = {name: w for name, w in weights.items() if w > 0}
    if len(used) == 1:
        return dict(views[next(iter(used))])
    normalise = _NORMALISE[mode]
    normalised = {name: normalise(views[name]) for name in used}
    candidates = list(dict.fromkeys(key for name in used for key in views[name]))
    return {key: sum(w * normalised[name].get(key, 0.0) for name, w in used.items()) for key in candidates}


def fuse(dense: dict[str, float], lexical: dict[str, float], weight: float, mode: FusionMode = "relative_score") -> dict[str, float]:
    """Two views: ``weight`` of the normalised dense score plus the rest of the lexical one.

    ``weight`` 1 is dense alone and 0 lexical alone (raw scores then, nothing normalised).
    """
    weight = min(max(weight, 0.0), 1.0)
    return fuse_views({"dense": dense, "lexical": lexical}, {"dense": weight, "lexical": 1.0 - weight}, mode)


def ranked(scores: dict[str, float], k: int) -> list[str]:
    """The ``k`` best keys, ties broken by key so a ranking never depends on dict order."""
    return sorted(scores, key=lambda key: (-scores[key], key))[:k]
