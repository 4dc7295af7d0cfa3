"""Calibrate the citation check: which support score separates supported from unsupported claims?

    python benchmarks/citation_support.py [--labels eval/citation_support.jsonl]

Reads hand-labelled claims about papers of the bundled corpus (paraphrases and figures the abstract states
are "supported"; invented details, wrong figures, contradictions and claims true of another paper are not),
scores each against its paper's abstract with `rag.citations.SupportScorer` and the real MiniLM embedder,
and prints, for several cosine weights, the best threshold and its accuracy, plus a 2-fold estimate
(threshold chosen on one half, measured on the other), and the result at the current settings by kind.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag import Assistant, Settings  # noqa: E402
from rag.citations import SupportScorer  # noqa: E402
from rag.types import Hit  # noqa: E402

WEIGHTS = [0.0, 0.25, 0.5, 0.75, 1.0]


def accuracy(scores: list[float], labels: list[bool], threshold: float) -> float:
    return sum((s >= threshold) == y for s, y in zip(scores, labels)) / len(labels)


def best_threshold(scores: list[float], labels: list[bool]) -> tuple[float, float]:
    """The threshold with the highest accuracy (midpoints between sorted scores), and that accuracy."""
    values = sorted(set(scores))
    candidates = [0.0] + [(a + b) / 2 for a, b in zip(values, values[1:])] + [values[-1] + 1e-6]
    scored = [(accuracy(scores, labels, t), -abs(t - 0.5), t) for t in candidates]
    acc, _, threshold = max(scored)
    return threshold, acc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", default=str(Path(__file__).resolve().parent.parent / "eval" / "citation_support.jsonl"))
    args = parser.parse_args()
    items = [json.loads(line) for line in Path(args.labels).read_text(encoding="utf-8").splitlines() if line.strip()]

    with tempfile.TemporaryDirectory() as home:
        assistant = Assistant(Settings(home=Path(home), llm={"base_url": "", "api_key": ""}))
        assistant.ensure_ready(progress=False)
        by_title = {p.title: p for p in assistant.papers(limit=10_000)}
        hits = {}
        for item in items:
            paper = by_title[item["title"]]
            hits[item["title"]] = Hit(paper_id=paper.paper_id, title=paper.title, score=1.0, abstract=paper.abstract, url=paper.url)
        vectors = assistant.extractive.vectors.get(list(hits.values()))
        claim_vectors = assistant.embedder.encode([item["claim"] for item in items])
        labels = [bool(item["supported"]) for item in items]
        min_support = assistant.settings.answer.min_support

        print(f"{len(items)} labelled claims ({sum(labels)} supported, {len(labels) - sum(labels)} not), "
              f"{len(hits)} papers, embedder {assistant.embedder.name}\n")
        print("| cosine weight | best threshold | accuracy there | 2-fold accuracy | accuracy at min_support "
              f"{min_support:g} |")
        print("|---|---|---|---|---|")
        per_weight = {}
        for weight in WEIGHTS:
            scorer = SupportScorer(assistant.embedder, cosine_weight=weight)
            scores = []
            for item, vector in zip(items, claim_vectors):
                hit = hits[item["title"]]
                support, _, _ = scorer.score(item["claim"], vector, [(hit, vectors[hit.paper_id])])
                scores.append(support)
            per_weight[weight] = scores
            threshold, acc = best_threshold(scores, labels)
            folds = []
            for train in (0, 1):
                pick = [i % 2 == train for i in range(len(items))]
                t, _ = best_threshold([s for s, p in zip(scores, pick) if p], [y for y, p in zip(labels, pick) if p])
                test_scores = [s for s, p in zip(scores, pick) if not p]
                test_labels = [y for y, p in zip(labels, pick) if not p]
                folds.append(accuracy(test_scores, test_labels, t) * len(test_labels))
            print(f"| {weight:g} | {threshold:.3f} | {acc:.3f} | {sum(folds) / len(items):.3f} | "
                  f"{accuracy(scores, labels, min_support):.3f} |")

        scorer_weight = SupportScorer(assistant.embedder).cosine_weight
        scores = per_weight[scorer_weight]
        print(f"\nAt the defaults (cosine weight {scorer_weight:g}, min_support {min_support:g}), by kind of claim:\n")
        print("| kind | claims | judged right | mean support |")
        print("|---|---|---|---|")
        kinds = defaultdict(list)
        for item, score in zip(items, scores):
            kinds[item["kind"]].append((score, item["supported"]))
        for kind, rows in sorted(kinds.items()):
            right = sum((s >= min_support) == y for s, y in rows)
            print(f"| {kind} ({'supported' if rows[0][1] else 'not supported'}) | {len(rows)} | {right} | "
                  f"{sum(s for s, _ in rows) / len(rows):.2f} |")
        supported = sorted(s for s, y in zip(scores, labels) if y)
        unsupported = sorted(s for s, y in zip(scores, labels) if not y)
        print(f"\nsupported claims score {supported[0]:.3f} at least (5th lowest {supported[4]:.3f}); "
              f"unsupported ones: median {unsupported[len(unsupported) // 2]:.3f}, highest {unsupported[-1]:.3f}")
        best, _ = best_threshold(scores, labels)
        print(f"at the best threshold {best:.3f}: {sum(1 for x in supported if x < best)} supported claims flagged, "
              f"{sum(1 for x in unsupported if x < best)} of {len(unsupported)} unsupported caught; at {min_support:g}: "
              f"{sum(1 for x in supported if x < min_support)} flagged, {sum(1 for x in unsupported if x < min_support)} caught")
        wrong = [(item, score) for item, score in zip(items, scores) if (score >= min_support) != item["supported"]]
        if wrong:
            print("\nMisjudged:")
            for item, score in wrong:
                print(f"  {score:.3f} {'supported' if item['supported'] else 'unsupported'}: {item['claim']}  ({item['title'][:40]})")
        assistant.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
