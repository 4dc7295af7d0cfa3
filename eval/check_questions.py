#!/usr/bin/env python3
"""Validate an evaluation question set against a paper corpus.

Usage:
    python eval/check_questions.py [path/to/questions.jsonl]
    python eval/check_questions.py [path/to/questions.jsonl] --corpus hf-daily [--data DIR]
    python eval/check_questions.py FILE --partial     (a few questions, e.g. `rag feedback export`'s)

Default (``--corpus bundled``): the question file is ``questions.jsonl`` next
to this script; the corpus is ``rag/data/trending_papers.txt`` in the
repository root (the parent of this script's directory).  Besides the
per-record checks, every bundled paper must be covered by at least one
answerable question, and the per-type minimums of the official set apply
(``MIN_PER_TYPE`` / ``MIN_TOTAL``).

``--corpus hf-daily``: validate against the Hugging Face daily-papers dump,
the ``daily_papers_YYYY-MM.json.gz`` files in DIR (default
``../shared/data/hf-daily`` relative to the repository root), each a gzipped
JSON array of records whose ``paper`` object holds ``id`` (arXiv id),
``title`` and ``summary``.  Records are deduplicated by arXiv id.  Titles are
matched verbatim after stripping and collapsing whitespace; a relevant title
that several different papers share, or that is also a title of the bundled
corpus, is reported as ambiguous.  Answer facts are checked against the
relevant papers' ``summary``.  The question file defaults to
``scale_questions.jsonl`` next to this script, the per-type minimums are
``MIN_PER_TYPE_HF_DAILY`` / ``MIN_TOTAL_HF_DAILY``, and there is no "every
paper covered" check (the corpus has thousands of papers).

``--partial``: the file is a few questions, not a whole set (e.g. what
``rag feedback export`` wrote): every line is checked as above, but not
that every paper is covered or the per-type minimums.

Standard library only.  Prints a summary (counts per type, papers covered or
cited) and every problem with its line number; exits with status 1 if any
problem was found, 0 otherwise (2 on a command-line usage error).
"""

from __future__ import annotations

import gzip
import json
import re
import sys
from collections import Counter
from pathlib import Path

SCRIPT_DIR = Path(__file__).resolve().parent
CORPUS_PATH = SCRIPT_DIR.parent / "rag" / "data" / "trending_papers.txt"
DEFAULT_QUESTIONS = SCRIPT_DIR / "questions.jsonl"
# --corpus hf-daily: the Hugging Face daily-papers dump and its question set.
HF_DAILY_DIR = SCRIPT_DIR.parent.parent / "shared" / "data" / "hf-daily"
HF_DAILY_GLOB = "daily_papers_*.json.gz"
DEFAULT_HF_DAILY_QUESTIONS = SCRIPT_DIR / "scale_questions.jsonl"
CORPORA = ("bundled", "hf-daily")

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
# Minimums for a question set over the hf-daily corpus (no followup or
# injection questions required there).
MIN_PER_TYPE_HF_DAILY = {
    "fact": 10,
    "paraphrase": 30,
    "multi": 8,
    "unanswerable": 10,
    "followup": 0,
    "injection": 0,
}
MIN_TOTAL_HF_DAILY = 60
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


def normalize_title(s: str) -> str:
    """Title form used for the hf-daily corpus: stripped, whitespace collapsed."""
    return re.sub(r"\s+", " ", s).strip()


class HfDailyCorpus:
    """The hf-daily papers: {title: abstract} plus what the checks need.

    ``papers`` maps each normalised title to its abstract (``paper.summary``;
    the first paper's when several papers share a title); ``ambiguous`` holds
    the titles shared by more than one arXiv id; ``months`` maps a title to
    the ``YYYY-MM`` of its file; ``n_papers`` counts distinct arXiv ids.
    """

    def __init__(self, data_dir: str | Path = HF_DAILY_DIR):
        self.data_dir = Path(data_dir)
        self.files = sorted(self.data_dir.glob(HF_DAILY_GLOB))
        if not self.files:
            raise ValueError(f"no {HF_DAILY_GLOB} files in {self.data_dir}")
        self.papers: dict[str, str] = {}
        self.months: dict[str, str] = {}
        ids_by_title: dict[str, set[str]] = {}
        seen_ids: set[str] = set()
        for path in self.files:
            month = path.name[len("daily_papers_"):-len(".json.gz")]
            try:
                with gzip.open(path, "rt", encoding="utf-8") as fh:
                    records = json.load(fh)
            except (OSError, EOFError, UnicodeDecodeError,
                    json.JSONDecodeError) as exc:
                raise ValueError(f"{path}: {exc}") from exc
            if not isinstance(records, list):
                raise ValueError(f"{path}: expected a JSON array of records")
            for k, rec in enumerate(records):
                paper = rec.get("paper") if isinstance(rec, dict) else None
                if not isinstance(paper, dict):
                    paper = rec if isinstance(rec, dict) else {}
                title = paper.get("title") or (rec.get("title")
                                                if isinstance(rec, dict) else None)
                summary = paper.get("summary") or (rec.get("summary")
                                                   if isinstance(rec, dict) else None)
                if not isinstance(title, str) or not isinstance(summary, str):
                    raise ValueError(f"{path}: record {k} has no title/summary")
                pid = str(paper.get("id") or f"{path.name}#{k}")
                title = normalize_title(title)
                if pid in seen_ids:
                    continue  # the same paper listed twice
                seen_ids.add(pid)
                ids_by_title.setdefault(title, set()).add(pid)
                if title not in self.papers:
                    self.papers[title] = summary
                    self.months[title] = month
        self.n_papers = len(seen_ids)
        self.ambiguous = {t for t, ids in ids_by_title.items() if len(ids) > 1}
        self.all_months = sorted({path.name[len("daily_papers_"):-len(".json.gz")]
                                  for path in self.files})


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


def check_file(qpath, papers, norm_abstracts, title_problem=None):
    """Check every line of a question file.

    Returns (problems, type_counts, covered, n_records), or None when the
    file cannot be read.  ``covered`` counts, per corpus title, the
    answerable questions citing it.  ``title_problem(title)`` may return an
    extra message for a relevant title (e.g. an ambiguous one).
    """
    problems: list[tuple[int, str]] = []
    type_counts: Counter[str] = Counter()
    covered: Counter[str] = Counter()
    ids: dict[str, int] = {}
    n_records = 0

    try:
        raw_lines = qpath.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        print(f"ERROR reading {qpath}: {exc}")
        return None

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
        if title_problem is not None:
            for t in rec["relevant_titles"]:
                msg = title_problem(t) if isinstance(t, str) else None
                if msg:
                    problems.append((lineno, msg))
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
    return problems, type_counts, covered, n_records


def check_counts(type_counts, n_records, min_per_type, min_total, problems):
    """Append the per-type and total minimum problems (line 0)."""
    for qtype, minimum in min_per_type.items():
        if type_counts[qtype] < minimum:
            problems.append((0, f"only {type_counts[qtype]} {qtype!r} questions "
                                f"(need >= {minimum})"))
    if n_records < min_total:
        problems.append((0, f"only {n_records} questions (need >= {min_total})"))


def print_type_counts(type_counts):
    for qtype in TYPES:
        print(f"  {qtype:<13} {type_counts[qtype]}")
    others = sorted(set(type_counts) - set(TYPES))
    for qtype in others:
        print(f"  {qtype:<13} {type_counts[qtype]} (invalid type)")


def report(problems) -> int:
    """Print the problems (if any); return the exit status."""
    if problems:
        print(f"\n{len(problems)} problem(s):")
        for lineno, msg in sorted(problems, key=lambda p: p[0]):
            where = f"line {lineno}" if lineno else "file"
            print(f"  {where}: {msg}")
        return 1
    print("\nOK: no problems found")
    return 0


class UsageError(Exception):
    pass


def parse_args(argv: list[str]) -> dict:
    """Parse ``[FILE] [--corpus bundled|hf-daily] [--data DIR] [-h]``.

    As before, the first other argument is the question file and any
    further ones are ignored.
    """
    opts = {"qpath": None, "corpus": "bundled", "data": None, "help": False, "partial": False}
    positional: list[str] = []
    args = list(argv[1:])
    while args:
        arg = args.pop(0)
        if arg in ("-h", "--help"):
            opts["help"] = True
        elif arg == "--partial":
            opts["partial"] = True
        elif arg in ("--corpus", "--data"):
            if not args:
                raise UsageError(f"{arg} needs a value")
            opts[arg[2:]] = args.pop(0)
        elif arg.startswith(("--corpus=", "--data=")):
            name, _, value = arg[2:].partition("=")
            opts[name] = value
        else:
            positional.append(arg)
    if opts["corpus"] not in CORPORA:
        raise UsageError(f"--corpus must be one of {list(CORPORA)}, "
                         f"got {opts['corpus']!r}")
    if opts["data"] is not None and opts["corpus"] != "hf-daily":
        raise UsageError("--data only applies to --corpus hf-daily")
    if positional:
        opts["qpath"] = Path(positional[0])
    return opts


def main(argv: list[str]) -> int:
    try:
        opts = parse_args(argv)
    except UsageError as exc:
        print(f"usage error: {exc}")
        print("usage: check_questions.py [FILE] "
              "[--corpus bundled|hf-daily] [--data DIR] [--partial]")
        return 2
    if opts["help"]:
        print(__doc__)
        return 0
    if opts["corpus"] == "hf-daily":
        return main_hf_daily(opts["qpath"] or DEFAULT_HF_DAILY_QUESTIONS,
                             Path(opts["data"]) if opts["data"] else HF_DAILY_DIR, opts["partial"])

    qpath = opts["qpath"] or DEFAULT_QUESTIONS
    try:
        papers = load_papers(CORPUS_PATH)
    except (OSError, ValueError) as exc:
        print(f"ERROR loading corpus {CORPUS_PATH}: {exc}")
        return 1
    norm_abstracts = {t: normalize(a) for t, a in papers.items()}

    result = check_file(qpath, papers, norm_abstracts)
    if result is None:
        return 1
    problems, type_counts, covered, n_records = result

    # set-level checks (line 0 = whole file)
    uncovered = [t for t in papers if t not in covered]
    if not opts["partial"]:
        for t in uncovered:
            problems.append((0, f"paper not covered by any answerable question: {t!r}"))
        check_counts(type_counts, n_records, MIN_PER_TYPE, MIN_TOTAL, problems)

    print(f"corpus: {CORPUS_PATH} ({len(papers)} papers)")
    print(f"questions: {qpath} ({n_records} records)")
    print_type_counts(type_counts)
    print(f"papers covered by answerable questions: "
          f"{len(papers) - len(uncovered)}/{len(papers)}")
    if covered:
        least = min(covered[t] for t in papers)
        print(f"  min/max questions per paper: {least}/{max(covered.values())}")
    return report(problems)


def main_hf_daily(qpath: Path, data_dir: Path, partial: bool = False) -> int:
    """Check ``qpath`` against the hf-daily corpus in ``data_dir``."""
    try:
        corpus = HfDailyCorpus(data_dir)
    except (OSError, ValueError) as exc:
        print(f"ERROR loading hf-daily corpus {data_dir}: {exc}")
        return 1
    papers = corpus.papers
    try:
        bundled_titles = set(load_papers(CORPUS_PATH))
    except (OSError, ValueError) as exc:
        print(f"note: bundled corpus not loaded ({exc}); "
              "titles not checked against it")
        bundled_titles = set()

    def title_problem(t: str) -> str | None:
        if t in corpus.ambiguous:
            return f"relevant title is shared by several hf-daily papers: {t!r}"
        if t in bundled_titles:
            return f"relevant title is also a bundled-corpus title: {t!r}"
        return None

    norm_abstracts = {t: normalize(a) for t, a in papers.items()}
    result = check_file(qpath, papers, norm_abstracts, title_problem)
    if result is None:
        return 1
    problems, type_counts, covered, n_records = result
    if not partial:
        check_counts(type_counts, n_records, MIN_PER_TYPE_HF_DAILY,
                     MIN_TOTAL_HF_DAILY, problems)

    print(f"corpus: hf-daily {corpus.data_dir} ({corpus.n_papers} papers, "
          f"{len(corpus.files)} files)")
    print(f"questions: {qpath} ({n_records} records)")
    print_type_counts(type_counts)
    print(f"papers cited by answerable questions: {len(covered)}")
    if covered:
        months = {corpus.months[t] for t in covered}
        print(f"  months covered: {len(months)}/{len(corpus.all_months)}")
        print(f"  min/max questions per cited paper: "
              f"{min(covered.values())}/{max(covered.values())}")
    return report(problems)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
