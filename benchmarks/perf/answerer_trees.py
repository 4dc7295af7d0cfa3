"""What the answerer's learned model costs per question: the shipped trees evaluated over ten retrieved
papers' features, all trees at once (`Forest.sum`, what the answerer runs) and one tree at a time (how it
was first written), on the same rows, with their sums compared.

    python -m benchmarks.perf.answerer_trees [--repeat 500]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.common import percentile, write_results
from rag.answer.answerability import FEATURES, default_model


def one_tree_at_a_time(trees, rows: np.ndarray) -> np.ndarray:
    total = np.zeros(len(rows))
    for tree in trees:
        node, at = np.zeros(len(rows), dtype=np.int64), np.arange(len(rows))
        while True:
            inner = ~tree.leaf[node]
            if not inner.any():
                break
            values = rows[at[inner], tree.feature[node[inner]]]
            go_left = np.where(np.isnan(values), tree.missing_left[node[inner]], values <= tree.threshold[node[inner]])
            node[inner] = np.where(go_left, tree.left[node[inner]], tree.right[node[inner]])
        total += tree.value[node]
    return total


def timed(fn, repeat: int) -> list[float]:
    fn()
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=500)
    parser.add_argument("--tag"), parser.add_argument("--no-results", action="store_true")
    args = parser.parse_args()
    model = default_model()
    rows = np.random.default_rng(0).normal(size=(10, len(FEATURES)))
    rows[::3, 4] = np.nan  # missing values take their learned side
    columns = rows[:, [FEATURES.index(f) for f in model.features]]
    difference = float(np.abs(model.forest.sum(columns) - one_tree_at_a_time(model.trees, columns)).max())
    figures = {"trees": len(model.trees), "papers": len(rows), "max_difference": difference}
    for name, fn in (("all_at_once", lambda: model.forest.sum(columns)), ("one_at_a_time", lambda: one_tree_at_a_time(model.trees, columns))):
        ms = timed(fn, args.repeat)
        figures[name] = {"p50_ms": round(percentile(ms, 50), 3), "p95_ms": round(percentile(ms, 95), 3)}
        print(f"{name}: p50 {figures[name]['p50_ms']} ms, p95 {figures[name]['p95_ms']} ms")
    print(f"largest difference between the two sums: {difference:.2e}")
    write_results("answerer_trees", figures, args)


if __name__ == "__main__":
    main()
