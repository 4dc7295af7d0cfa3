"""Answerer models side by side, by what their cards say: each human-written source judged by trees fitted
without it, at the thresholds that fit chose.

    python -m benchmarks.quality.answerer_cards plain=FILE balanced=FILE [--tag T]

The cards are written by `python -m training.answerer` (figures "left_out"), so comparing two fits of the
same kept rows costs nothing more than the fits. Per source: false refusals, unanswerable refused, citation
precision and recall, and the decision figure ((1 - false refusals) + unanswerable refused) / 2, the figure
the held-out tables rank levers by; then each model's mean over the sources.
Results: benchmarks/results/quality/answerer-cards[-TAG].json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.common import write_results


def decision(figures: dict) -> float:
    return ((1 - figures["false_refusals"]) + figures["unanswerable_refused"]) / 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", metavar="NAME=FILE")
    parser.add_argument("--tag"), parser.add_argument("--no-results", action="store_true")
    args = parser.parse_args(argv)
    cards = {}
    for spec in args.models:
        name, _, path = spec.partition("=")
        if not path:
            parser.error(f"{spec}: give NAME=FILE")
        model = json.loads(Path(path).read_text(encoding="utf-8"))
        cards[name] = {
            "file": Path(path).name, "threshold": model["threshold"], "second_within": model["second_within"],
            "list_threshold": model.get("list_threshold"), "features": len(model["features"]),
            "chosen_on": model["made_by"]["chosen_on"], "left_out": model["made_by"]["figures"]["left_out"],
        }
    sources = list(next(iter(cards.values()))["left_out"])
    print("| source | " + " | ".join(f"{n}: FR / U / P / R / decision" for n in cards) + " |")
    print("|---|" + "---|" * len(cards))
    for source in sources:
        cells = []
        for card in cards.values():
            f = card["left_out"][source]
            cells.append(f"{f['false_refusals']:.3f} / {f['unanswerable_refused']:.3f} / {f['citation_precision']:.3f} / "
                         f"{f['citation_recall']:.3f} / {decision(f):.3f}")
        print(f"| {source} | " + " | ".join(cells) + " |")
    for card in cards.values():
        card["mean_decision"] = round(sum(decision(card["left_out"][s]) for s in sources) / len(sources), 4)
        card["mean_utility"] = round(sum(card["left_out"][s]["utility"] for s in sources) / len(sources), 4)
    print("| mean decision figure / utility | " + " | ".join(f"{c['mean_decision']:.4f} / {c['mean_utility']:.4f}" for c in cards.values()) + " |")
    print("thresholds (answer / second within / list): " + "; ".join(f"{n} {c['threshold']} / {c['second_within']} / {c['list_threshold']}" for n, c in cards.items()))
    write_results("answerer-cards", cards, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
