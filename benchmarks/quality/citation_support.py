"""Calibrate the citation check: which support score separates supported from unsupported claims?

    python -m benchmarks.quality.citation_support [--labels eval/citation_support.jsonl]

Reads hand-labelled claims about papers of the bundled corpus (paraphrases and figures the abstract states
are "supported"; invented details, wrong figures, contradictions and claims true of another paper are not),
scores each against its paper's abstract with `rag.answer.support.SupportScorer` and the real MiniLM embedder,
and prints, for several cosine weights, the best threshold and its accuracy, plus a 2-fold estimate
(threshold chosen on one half, measured on the other), and the result at the current settings by kind.
The figures go to benchmarks/results/quality/citation-support[-TAG].json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from benchmarks.common import ROOT, add_results_arguments, write_results
from rag import Assistant, Settings
from rag.answer.support import SupportScorer
from rag.types import Hit

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
    parser.add_argument("--labels", default=str(ROOT / "eval" / "citation_support.jsonl"))
    add_results_arguments(parser)
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
        vectors = assistant.sentence_vectors.get(list(hits.values()))
        claim_vectors = assistant.embedder.encode([item["claim"] for item in items])
        labels = [bool(item["supported"]) for item in items]
        min_support = assistant.settings.answer.min_support

        print(f"{len(items)} labelled claims ({sum(labels)} supported, {len(labels) - sum(labels)} not), "
              f"{len(hits)} papers, embedder {assistant.embedder.name}\n")
        print("| cosine weight | best threshold | accuracy there | 2-fold accuracy | accuracy at min_support "
              f"{min_support:g} |")
        print("|---|---|---|---|---|")
        per_weight = {}
        weights_table = []
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
            weights_table.append({"cosine_weight": weight, "best_threshold": round(threshold, 3), "accuracy_there": round(acc, 3),
                                  "two_fold_accuracy": round(sum(folds) / len(items), 3),
                                  "accuracy_at_min_support": round(accuracy(scores, labels, min_support), 3)})

        scorer_weight = SupportScorer(assistant.embedder).cosine_weight
        scores = per_weight[scorer_weight]
        print(f"\nAt the defaults (cosine weight {scorer_weight:g}, min_support {min_support:g}), by kind of claim:\n")
        print("| kind | claims | judged right | mean support |")
        print("|---|---|---|---|")
        kinds = defaultdict(list)
        for item, score in zip(items, scores):
            kinds[item["kind"]].append((score, item["supported"]))
        by_kind = {}
        for kind, rows in sorted(kinds.items()):
            right = sum((s >= min_support) == y for s, y in rows)
            print(f"| {kind} ({'supported' if rows[0][1] else 'not supported'}) | {len(rows)} | {right} | "
                  f"{sum(s for s, _ in rows) / len(rows):.2f} |")
            by_kind[kind] = {"supported": bool(rows[0][1]), "claims": len(rows), "judged_right": right,
                             "mean_support": round(sum(s for s, _ in rows) / len(rows), 2)}
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
    write_results("citation-support", {
        "claims": len(items),
        "supported": sum(labels),
        "papers": len(hits),
        "embedder": assistant.embedder.name,
        "min_support": min_support,
        "default_cosine_weight": scorer_weight,
        "by_cosine_weight": weights_table,
        "by_kind_at_defaults": by_kind,
        "lowest_supported": round(supported[0], 3),
        "best_threshold_at_defaults": round(best, 3),
        "at_best_threshold": {"supported_flagged": sum(1 for x in supported if x < best),
                              "unsupported_caught": sum(1 for x in unsupported if x < best)},
        "at_min_support": {"supported_flagged": sum(1 for x in supported if x < min_support),
                           "unsupported_caught": sum(1 for x in unsupported if x < min_support)},
        "misjudged": [{"score": round(score, 3), "supported": item["supported"], "claim": item["claim"]} for item, score in wrong],
    }, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
