"""Answers in the user's own words: tuned-on and held-out question sets side by side, each corpus size.

    python -m benchmarks.quality.heldout [--corpus bundled|distractors|hf-daily] [--variant NAME[:settings]]...
                                         [--cache DIR] [--hf-home DIR]

For each corpus, every question set is scored through the public `Assistant` (`rag.evaluation.evaluate`),
once per variant, in the same run. By default ``rules`` (the hand rules the answerer used before: the
baseline) and ``learned`` (everything as shipped); a variant can change any setting, e.g.
``before:answer.decider_model=FILE`` (the model shipped before) or
``views:retrieval.abstract_weight=0.3``:

- ``bundled``: the 67 bundled abstracts. Tuned on: eval/dev_questions.jsonl, eval/questions.jsonl and
  the reader's-voice sets that were held out once (eval/heldout_questions.jsonl, heldout2, heldout3; see
  eval/README.md). Held out: eval/heldout4_followups.jsonl (conversations only),
  eval/heldout5_questions.jsonl, eval/heldout6_questions.jsonl and eval/heldout7_questions.jsonl.
- ``distractors``: the same 67 with 2,000 on-domain distractors beside them (a fixed, seeded sample of
  ../shared/data/hf-daily). Tuned on: eval/questions.jsonl and the same reader's-voice sets. Held out:
  eval/heldout4_followups.jsonl, eval/heldout5_questions.jsonl, heldout6 and heldout7.
- ``hf-daily``: all 8,036 hf-daily papers and the 67. Tuned on: eval/questions.jsonl,
  eval/scale_questions.jsonl, eval/voicetrain_questions.jsonl. Held out: eval/scale2_questions.jsonl,
  eval/scale3_questions.jsonl.

The held-out sets are scored here only to report: nothing in rag/ or training/ reads their questions. Indexes are built
once under --cache (MiniLM; the 2,067-paper one ~10 min, the 8,103-paper one ~15 min on 2 quiet cores).
Results: benchmarks/results/quality/heldout-<corpus>.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import time
from pathlib import Path

from benchmarks.common import BUNDLED, ROOT, SHARED_DATA, write_results
from rag.assistant import Assistant
from rag.corpus import read_corpus, record_to_paper
from rag.evaluation import evaluate, load_questions
from rag.settings import Settings
from rag.text.clean import normalise_title
from rag.types import Paper

SETS = {
    # heldout2/heldout3 were held out until 6 Dec, 14:25 (eval/README.md): tuning sets since.
    "bundled": {"tuned": ("dev_questions", "questions", "heldout_questions", "heldout2_questions", "heldout3_questions"), "held_out": ("heldout4_followups", "heldout5_questions", "heldout6_questions", "heldout7_questions")},
    "distractors": {"tuned": ("questions", "heldout_questions", "heldout2_questions", "heldout3_questions"), "held_out": ("heldout4_followups", "heldout5_questions", "heldout6_questions", "heldout7_questions")},
    "hf-daily": {"tuned": ("questions", "scale_questions", "voicetrain_questions"), "held_out": ("scale2_questions", "scale3_questions")},
}
DISTRACTORS = 2000


def distractor_file(cache: Path, seed: int = 0) -> Path:
    """A fixed sample of hf-daily papers (not the bundled ones) as JSON Lines."""
    path = cache / f"hf-daily-{DISTRACTORS}-seed{seed}.jsonl"
    if path.is_file():
        return path
    # The four bundled papers that are also daily papers would be indexed twice (by title and by arXiv id).
    bundled = {normalise_title(p.title) for p in read_corpus(BUNDLED) if isinstance(p, Paper)}
    records, seen = [], set()
    for file in sorted((SHARED_DATA / "hf-daily").glob("daily_papers_*.json.gz")):
        for record in json.loads(gzip.decompress(file.read_bytes())):
            paper = record_to_paper(record)
            if paper.paper_id not in seen and normalise_title(paper.title) not in bundled:
                seen.add(paper.paper_id)
                records.append(record)
    random.Random(seed).shuffle(records)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for record in records[:DISTRACTORS]:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def index(corpus: str, cache: Path, hf_home: str | None) -> Path:
    """The data folder of ``corpus``, built (or topped up) now."""
    if corpus == "hf-daily" and hf_home:
        return Path(hf_home)
    home = cache / corpus
    files = [BUNDLED]
    if corpus == "distractors":
        files.append(distractor_file(cache))
    elif corpus == "hf-daily":
        files += sorted((SHARED_DATA / "hf-daily").glob("daily_papers_*.json.gz"))
    assistant = Assistant(Settings(home=home, corpus={"auto_index": False}, llm={"base_url": "", "api_key": ""}))
    report = assistant.ingest(files, progress=True)
    print(f"{corpus}: {report.summary()}; {assistant.count():,} papers", file=sys.stderr, flush=True)
    assistant.close()
    return home


def summary(report: dict) -> dict:
    """The figures the quality issue tracks, from one set's evaluation."""
    overall, by_type = report["summary"]["overall"], report["summary"]["by_type"]

    def of(kind: str, key: str, retriever: str | None = "hybrid"):
        block = by_type.get(kind)
        if not block:
            return None
        return block[retriever][key] if retriever else block[key]

    return {
        "questions": overall["questions"],
        "paraphrase_recall@1": of("paraphrase", "recall@1"), "paraphrase_recall@3": of("paraphrase", "recall@3"),
        "fact_recall@1": of("fact", "recall@1"), "multi_recall@10": of("multi", "recall@10"),
        "citation_precision": overall["citation_precision"], "citation_recall": overall["citation_recall"],
        "paraphrase_citation_recall": of("paraphrase", "citation_recall", None),
        "false_refusals": overall["false_refusal_rate"], "paraphrase_false_refusals": of("paraphrase", "false_refusal_rate", None),
        "unanswerable_refused": of("unanswerable", "refusal_accuracy", None),
        "fact_coverage": overall["fact_coverage"], "stayed_on_question": of("injection", "stayed_on_question", None),
        "ask_p50_ms": report["summary"]["latency_ms"]["ask_p50"],
        "retrieve_p50_ms": report["summary"]["latency_ms"]["retrieve_hybrid_p50"],
    }


def variant(spec: str) -> tuple[str, dict]:
    """``NAME:section.field=value;...`` as a name and settings overrides; ``rules`` and ``learned`` alone are
    the two deciders with everything else as shipped."""
    name, _, assignments = spec.partition(":")
    if not assignments and name in ("rules", "learned"):
        assignments = f"answer.decider={name}"
    overrides: dict = {}
    for assignment in filter(None, assignments.split(";")):
        key, _, value = assignment.partition("=")
        section, _, field = key.strip().partition(".")
        overrides.setdefault(section, {})[field] = value.strip()
    return name, overrides


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=list(SETS), action="append", help="default: all three")
    parser.add_argument("--variant", action="append", metavar="NAME[:section.field=value;...]",
                        help="what to score, in the same run (default: rules and learned); e.g. "
                        "'before:answer.decider_model=FILE' or 'views:retrieval.abstract_weight=0.3'")
    parser.add_argument("--cache", default=str(Path.home() / ".cache" / "rag-abstracts-heldout"))
    parser.add_argument("--hf-home", help="an index of all hf-daily papers and the 67 already built (reused)")
    parser.add_argument("--skip-set", action="append", default=[], metavar="NAME",
                        help="leave a set out, e.g. heldout7_questions: a fresh held-out set kept unseen until a choice is scored on it")
    parser.add_argument("--tag"), parser.add_argument("--no-results", action="store_true")
    args = parser.parse_args()
    known = {name for sets in SETS.values() for names in sets.values() for name in names}
    if unknown := sorted(set(args.skip_set) - known):
        parser.error(f"no such question set: {', '.join(unknown)}")
    cache = Path(args.cache).expanduser()
    for corpus in args.corpus or list(SETS):
        home = index(corpus, cache, args.hf_home)
        figures: dict = {"corpus": corpus, "sets": {}, "variants": {}}
        for spec in args.variant or ["rules", "learned"]:
            name, overrides = variant(spec)
            # The model file's name only: no folder of this machine in the results.
            figures["variants"][name] = {s: {f: Path(v).name if f == "decider_model" else v for f, v in fields.items()} for s, fields in overrides.items()}
            overrides.setdefault("corpus", {})["auto_index"] = False
            assistant = Assistant(Settings(home=home, llm={"base_url": "", "api_key": ""}, **overrides))
            figures["papers"] = assistant.count()
            for kind, names in SETS[corpus].items():
                for set_name in (n for n in names if n not in args.skip_set):
                    questions, problems = load_questions(ROOT / "eval" / f"{set_name}.jsonl")
                    assert not problems, problems
                    started = time.time()
                    report = evaluate(assistant, questions, retrievers=("hybrid",))
                    figures["sets"].setdefault(set_name, {"kind": kind})[name] = summary(report)
                    print(f"{corpus} {name} {set_name} ({kind}): {json.dumps(figures['sets'][set_name][name])} "
                          f"[{time.time() - started:.0f} s]", flush=True)
            assistant.close()
        write_results(f"heldout-{corpus}", figures, args)


if __name__ == "__main__":
    main()
