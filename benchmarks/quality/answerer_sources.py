"""What one tuning source, or one group of features, adds to the answerer: the same kept rows fitted with
it and without it.

    python -m benchmarks.quality.answerer_sources --rows CACHE/rows-seed0.npz --source hf-followup
    python -m benchmarks.quality.answerer_sources --rows CACHE/rows-seed0.npz --features tok_low,tok_mean

Without features means the rows without those columns (`training.answerer.only`, as `--without` fits).

For each of the two fits, each human-written source is judged by trees fitted without it (as
`training.answerer` chooses its threshold), at the threshold and closeness that fit would choose. The
figures are given over all of a source's askings and over its follow-ups alone (askings read as a
follow-up: the `followup` feature), since a source of conversations should move those first. Seconds, no
asking: the rows are those `python -m training.answerer` measured and kept.
Results: benchmarks/results/quality/answerer_sources[-TAG].json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from benchmarks.common import write_results
from rag.answer.answerability import FEATURES
from training.answerer import HUMAN, _figures, _scored, _trees, choose_thresholds, kept_features, load_rows, only, utility

def judged(data: dict, seed: int, iterations: int, features: tuple[str, ...] = FEATURES) -> dict:
    """Each human-written source's askings scored by trees fitted without it, the threshold chosen as the
    training chooses it, and the figures over all askings and over the follow-ups. ``data``'s rows hold
    ``features``' columns."""
    column = features.index("followup") if "followup" in features else None

    def is_followup(item) -> bool:
        rows = item[0]
        return column is not None and bool(len(rows)) and bool(rows[0, column])

    human = [s for s in HUMAN if data.get(s)]
    left_out = {s: _scored(_trees(data, seed, leave_out=s, iterations=iterations), data[s]) for s in human}
    threshold, within, list_threshold = chosen = choose_thresholds(left_out)
    out = {"threshold": float(threshold), "second_within": float(within), "list_threshold": list_threshold, "sources": {}}
    for s in human:
        followups = [item for item, raw in zip(left_out[s], data[s]) if is_followup(raw)]
        out["sources"][s] = {
            "askings": len(left_out[s]), "utility": round(utility(left_out[s], *chosen[:2], list_threshold=list_threshold), 3),
            "followups": len(followups),
            "followup_utility": round(utility(followups, *chosen[:2], list_threshold=list_threshold), 3) if followups else None,
            "followup_figures": _figures(followups, *chosen) if followups else {},
        }
    out["mean_utility"] = round(float(np.mean([v["utility"] for v in out["sources"].values()])), 4)
    every_followup = [item for s in human for item, raw in zip(left_out[s], data[s]) if is_followup(raw)]
    out["followups"] = {"askings": len(every_followup), "utility": round(utility(every_followup, *chosen[:2], list_threshold=list_threshold), 3),
                        **_figures(every_followup, *chosen)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", required=True, help="rows kept by python -m training.answerer (--rows)")
    leave = parser.add_mutually_exclusive_group(required=True)
    leave.add_argument("--source", help="the tuning source to fit without, e.g. hf-followup")
    leave.add_argument("--features", help="features to fit without, comma-separated, e.g. tok_low,tok_mean")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--tag"), parser.add_argument("--no-results", action="store_true")
    args = parser.parse_args(argv)
    data = load_rows(Path(args.rows))
    if args.source:
        if args.source not in data:
            raise SystemExit(f"{args.rows}: no source {args.source!r}; it has {', '.join(sorted(data))}")
        left, without, kept = args.source, {s: v for s, v in data.items() if s != args.source}, FEATURES
    else:
        kept = kept_features(args.features)
        if kept == FEATURES:
            raise SystemExit(f"--features: name the features to fit without, e.g. tok_low,tok_mean (known: {', '.join(FEATURES)})")
        left, without = args.features, only(data, kept)
    figures = {"with": judged(data, args.seed, args.iterations), "without": judged(without, args.seed, args.iterations, kept)}
    for name, f in figures.items():
        fu = f["followups"]
        print(f"{name} {left}: threshold {f['threshold']}, within {f['second_within']}, list {f['list_threshold']}; mean left-out utility {f['mean_utility']:.4f}; "
              f"follow-ups ({fu['askings']}): utility {fu['utility']:.3f}, FR {fu.get('false_refusals')}, U {fu.get('unanswerable_refused')}")
        for s, v in f["sources"].items():
            print(f"   {s:12s} utility {v['utility']:.3f}   follow-ups {v['followups']:4d} utility {v['followup_utility']}")
    write_results("answerer_sources", {"source": args.source, "features": args.features, "rows": args.rows, **figures}, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
