"""Fusing the dense and the lexical ranking into one: pure functions over {paper id: score}.

Named as LlamaIndex's fusion retrievers name theirs:

- ``relative_score`` (the default): each side min-max normalised over the candidates, then a weighted sum.
- ``dist_based_score``: each side z-scored (by its mean and spread over the candidates), then a weighted sum.
- ``reciprocal_rank``: 1/(60 + rank) on each side, weighted; scores ignored.

Measured in BENCHMARKS.md ("Evaluation: SciFact", "Chunking and fusion weight"): the weighted relative-score
fusion beat reciprocal-rank fusion on both our questions and SciFact. Every candidate must be scored on
both sides before fusing (the retriever does that): a paper missing from one side is not a zero there.
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


def fuse(dense: dict[str, float], lexical: dict[str, float], weight: float, mode: FusionMode = "relative_score") -> dict[str, float]:
    """One score per candidate: ``weight`` of the normalised dense score plus the rest of the lexical one.

    ``weight`` 1 is dense alone and 0 lexical alone (raw scores then, nothing normalised).
    """
    if weight >= 1:
        return dict(dense)
    if weight <= 0:
        return dict(lexical)
    normalise = _NORMALISE[mode]
    nd, nl = normalise(dense), normalise(lexical)
    candidates = list(dict.fromkeys([*dense, *lexical]))
    return {key: weight * nd.get(key, 0.0) + (1 - weight) * nl.get(key, 0.0) for key in candidates}


def ranked(scores: dict[str, float], k: int) -> list[str]:
    """The ``k`` best keys, ties broken by key so a ranking never depends on dict order."""
    return sorted(scores, key=lambda key: (-scores[key], key))[:k]
