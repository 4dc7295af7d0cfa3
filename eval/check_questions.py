#!/usr/bin/env python3
"""Validate the evaluation question set against the paper corpus.

Usage:
    python eval/check_questions.py [path/to/questions.jsonl]

The default question file is ``questions.jsonl`` next to this script; the
corpus is ``rag/data/trending_papers.txt`` in the repository root (the parent
of this script's directory).

Standard library only.  Prints a summary (counts per type, papers covered)
and every problem with its line number; exits with status 1 if any problem
was found, 0 otherwise.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

SCRIPT_DIR = Path(__file__).resolve().parent
CORPUS_PATH = SCRIPT_DIR.parent / "rag" / "data" / "trending_papers.txt"
DEFAULT_QUESTIONS = SCRIPT_DIR / "questions.jsonl"

# The page header: the first 5 non-empty lines of the corpus file.
HEADER_LINES = [
    "new",
    "Get trending papers in your email inbox!",
    "Subscribe",
    "byAK and the research community",
    "Mar 11",
]

FIELDS = {
    "id": str,
    "type": str,
    "question": str,
    "history": list,
    "relevant_titles": list,
    "answer_facts": list,
    "answerable": bool,
}
TYPES = ("fact", "paraphrase", "multi", "unanswerable", "followup", "injection")
# Minimum number of questions per type, and in total, for the official set.
MIN_PER_TYPE = {
    "fact": 30,
    "paraphrase": 30,
    "multi": 12,
    "unanswerable": 20,
    "followup": 15,
    "injection": 8,
}
MIN_TOTAL = 130
ROLES = ("user", "assistant")


def load_papers(path: str | Path = CORPUS_PATH) -> dict[str, str]:
    """Parse the corpus into {title: abstract}, in file order.

    Non-empty lines (stripped) are taken; the first len(HEADER_LINES) are the
    page header, the rest alternate title line / abstract line.
    """
    text = Path(path).read_text(encoding="utf-8")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    n_header = len(HEADER_LINES)
    if lines[:n_header] != HEADER_LINES:
        raise ValueError(
            f"{path}: unexpected page header {lines[:n_header]!r}"
        )
    body = lines[n_header:]
    if len(body) % 2:
        raise ValueError(
            f"{path}: odd number of title/abstract lines ({len(body)})"
        )
    papers: dict[str, str] = {}
    for i in range(0, len(body), 2):
        title, abstract = body[i], body[i + 1]
        if title in papers:
            raise ValueError(f"{path}: duplicate title {title!r}")
        papers[title] = abstract
    return papers


def normalize(s: str) -> str:
    """Lenient form for fact matching: case-folded, whitespace collapsed."""
    return re.sub(r"\s+", " ", s).strip().casefold()


def check_record(rec, lineno, papers, norm_abstracts, problems):
    """Check one parsed record; append (lineno, message) to problems."""

    def bad(msg):
        problems.append((lineno, msg))

    if not isinstance(rec, dict):
        bad("line is not a JSON object")
        return False
    keys = set(rec)
    missing = set(FIELDS) - keys
    extra = keys - set(FIELDS)
    if missing:
        bad(f"missing fields: {sorted(missing)}")
    if extra:
        bad(f"unexpected fields: {sorted(extra)}")
    ok = True
    for name, typ in FIELDS.items():
        if name in rec and not isinstance(rec[name], typ):
            bad(f"field {name!r} should be {typ.__name__}, "
                f"got {type(rec[name]).__name__}")
            ok = False
    if missing or not ok:
        return False

    qtype = rec["type"]
    if qtype not in TYPES:
        bad(f"type {qtype!r} not one of {list(TYPES)}")
    if not rec["id"].strip():
        bad("empty id")
    if not rec["question"].strip():
        bad("empty question")

    # history: list of {"role": user|assistant, "content": str}
    history = rec["history"]
    for j, turn in enumerate(history):
        if not isinstance(turn, dict) or set(turn) != {"role", "content"}:
            bad(f"history[{j}] must be an object with exactly 'role' and 'content'")
            continue
        if turn["role"] not in ROLES:
            bad(f"history[{j}].role {turn['role']!r} not in {list(ROLES)}")
        if not isinstance(turn["content"], str) or not turn["content"].strip():
            bad(f"history[{j}].content must be a non-empty string")
    if qtype == "followup":
        if not history:
            bad("followup question has empty history")
        else:
            roles = [t.get("role") for t in history if isinstance(t, dict)]
            expected = [ROLES[k % 2] for k in range(len(roles))]
            if roles != expected or roles[-1] != "assistant":
                bad("followup history should alternate user/assistant, "
                    f"starting with user and ending with assistant (got {roles})")

    titles = rec["relevant_titles"]
    facts = rec["answer_facts"]
    for t in titles:
        if not isinstance(t, str):
            bad(f"relevant_titles entry is not a string: {t!r}")
        elif t not in papers:
            bad(f"relevant title not found verbatim in corpus: {t!r}")
    if len(set(map(str, titles))) != len(titles):
        bad("duplicate entries in relevant_titles")
    for f in facts:
        if not isinstance(f, str) or not f.strip():
            bad(f"answer_facts entry is not a non-empty string: {f!r}")

    # unanswerable <=> answerable false <=> empty relevant_titles
    answerable = rec["answerable"]
    is_unans_type = qtype == "unanswerable"
    if is_unans_type == answerable:
        bad(f"type {qtype!r} inconsistent with answerable={answerable}")
    if answerable and not titles:
        bad("answerable question has empty relevant_titles")
    if not answerable and titles:
        bad("unanswerable question has non-empty relevant_titles")
    if not answerable and facts:
        bad("unanswerable question has non-empty answer_facts")
    if answerable and not facts:
        bad("answerable question has no answer_facts")
    if qtype == "multi" and len(titles) < 2:
        bad("multi question should list at least 2 relevant titles")

    # every fact verbatim (leniently) in at least one relevant abstract
    rel_abs = [norm_abstracts[t] for t in titles
               if isinstance(t, str) and t in norm_abstracts]
    if rel_abs:
        for f in facts:
            if isinstance(f, str) and f.strip():
                nf = normalize(f)
                if not any(nf in a for a in rel_abs):
                    bad(f"answer fact not found in any relevant abstract: {f!r}")
    return True


def main(argv: list[str]) -> int:
    qpath = Path(argv[1]) if len(argv) > 1 else DEFAULT_QUESTIONS
    try:
        papers = load_papers(CORPUS_PATH)
    except (OSError, ValueError) as exc:
        print(f"ERROR loading corpus {CORPUS_PATH}: {exc}")
        return 1
    norm_abstracts = {t: normalize(a) for t, a in papers.items()}

    problems: list[tuple[int, str]] = []
    type_counts: Counter[str] = Counter()
    covered: Counter[str] = Counter()
    ids: dict[str, int] = {}
    n_records = 0

    try:
        raw_lines = qpath.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        print(f"ERROR reading {qpath}: {exc}")
        return 1

    for lineno, line in enumerate(raw_lines, start=1):
        if not line.strip():
            problems.append((lineno, "blank line"))
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append((lineno, f"invalid JSON: {exc}"))
            continue
        n_records += 1
        if not check_record(rec, lineno, papers, norm_abstracts, problems):
            continue
        type_counts[rec["type"]] += 1
        rid = rec["id"]
        if rid in ids:
            problems.append((lineno, f"duplicate id {rid!r} "
                                     f"(first on line {ids[rid]})"))
        else:
            ids[rid] = lineno
        if rec["answerable"]:
            for t in rec["relevant_titles"]:
                if t in papers:
                    covered[t] += 1

    # set-level checks (line 0 = whole file)
    uncovered = [t for t in papers if t not in covered]
    for t in uncovered:
        problems.append((0, f"paper not covered by any answerable question: {t!r}"))
    for qtype, minimum in MIN_PER_TYPE.items():
        if type_counts[qtype] < minimum:
            problems.append((0, f"only {type_counts[qtype]} {qtype!r} questions "
                                f"(need >= {minimum})"))
    if n_records < MIN_TOTAL:
        problems.append((0, f"only {n_records} questions (need >= {MIN_TOTAL})"))

    print(f"corpus: {CORPUS_PATH} ({len(papers)} papers)")
    print(f"questions: {qpath} ({n_records} records)")
    for qtype in TYPES:
        print(f"  {qtype:<13} {type_counts[qtype]}")
    others = sorted(set(type_counts) - set(TYPES))
    for qtype in others:
        print(f"  {qtype:<13} {type_counts[qtype]} (invalid type)")
    print(f"papers covered by answerable questions: "
          f"{len(papers) - len(uncovered)}/{len(papers)}")
    if covered:
        least = min(covered[t] for t in papers)
        print(f"  min/max questions per paper: {least}/{max(covered.values())}")

    if problems:
        print(f"\n{len(problems)} problem(s):")
        for lineno, msg in sorted(problems, key=lambda p: p[0]):
            where = f"line {lineno}" if lineno else "file"
            print(f"  {where}: {msg}")
        return 1
    print("\nOK: no problems found")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
