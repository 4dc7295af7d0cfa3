"""PubMedQA (PQA-L, the 500 official test questions) answered by the LLM through the public API.

Each question's paper (its context paragraphs, titled by PMID: the question itself is not indexed, or
retrieval would be a lookup) goes into an index of its own; the 1,000 labelled abstracts are all indexed so
that retrieval has to pick the right one. Scores: yes/no/maybe accuracy (the answer's verdict, read from
its opening words) and the share of answers that cite the gold paper. It needs an LLM endpoint: the
offline extractive answerer quotes sentences and gives no verdict.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

from rag.errors import RagError
from rag.evaluation.progress import progress_printer

LABELS = ("yes", "no", "maybe")
_HEDGES = re.compile(r"\b(unclear|uncertain|inconclusive|mixed|not (?:yet )?(?:clear|known|established)|may|might|possibly|partially|insufficient)\b")


def verdict(answer_text: str) -> str:
    """yes / no / maybe from an answer: its first explicit yes/no/maybe, else a hedge means maybe, else yes."""
    opening = answer_text.strip().casefold()[:300]
    match = re.search(r"\b(yes|no|maybe)\b", opening)
    if match:
        return match.group(1)
    return "maybe" if _HEDGES.search(opening) else "yes"


def load_pubmedqa(data: Path) -> tuple[dict[str, dict], dict[str, str]]:
    """All labelled records ({pmid: record}) and the test labels ({pmid: yes/no/maybe})."""
    records_file, truth_file = data / "ori_pqal.json", data / "test_ground_truth.json"
    for needed in (records_file, truth_file):
        if not needed.is_file():
            raise RagError(f"{needed} is missing: --data should be the PubMedQA folder (ori_pqal.json, test_ground_truth.json).")
    records = json.loads(records_file.read_text(encoding="utf-8"))
    truth = json.loads(truth_file.read_text(encoding="utf-8"))
    return records, truth


def corpus_file(records: dict[str, dict], home: Path) -> Path:
    """The abstracts as JSON Lines under ``home`` (ingest reads it; rewritten only when it changed)."""
    lines = [
        json.dumps({"id": pmid, "title": f"PMID {pmid}", "abstract": " ".join(r["CONTEXTS"]), "date": str(r.get("YEAR") or "")})
        for pmid, r in records.items()
    ]
    path = home / "pubmedqa_corpus.jsonl"
    text = "\n".join(lines) + "\n"
    home.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path


def citation_precision(rows: list[dict]) -> float | None:
    """Over the answers that cite anything: the share of their cited papers that is the question's own."""
    citing = [r for r in rows if r.get("cited")]
    return round(sum(r["cited_gold"] / r["cited"] for r in citing) / len(citing), 4) if citing else None


def main(args: argparse.Namespace) -> int:
    from rag.assistant import Assistant
    from rag.settings import Settings
    from rag.evaluation.beir import benchmark_home


    settings = Settings()
    if not settings.llm.configured:
        raise RagError(
            "PubMedQA scores the LLM's yes/no/maybe verdicts, so it needs an LLM endpoint: set RAG_LLM_BASE_URL "
            "(an OpenAI-compatible server) and/or OPENAI_API_KEY, and RAG_LLM_MODEL. Nothing was run."
        )
    data = Path(args.data).expanduser()
    records, truth = load_pubmedqa(data)
    home = benchmark_home(data, args.home)
    assistant = Assistant(Settings(home=home, corpus={"auto_index": False}, answer={"mode": "llm"}))
    report = assistant.ingest([corpus_file(records, home)])
    print(f"index {home}: {report.summary()}", file=sys.stderr)
    test = list(truth.items())[: args.limit] if args.limit else list(truth.items())
    rows, progress = [], progress_printer("questions")
    try:
        for i, (pmid, label) in enumerate(test, start=1):
            question = records[pmid]["QUESTION"]
            try:
                answer = assistant.ask(question)
            except RagError as exc:
                rows.append({"pmid": pmid, "label": label, "error": str(exc), "verdict": None, "cited_gold": False, "cited": 0})
            else:
                rows.append({
                    "pmid": pmid,
                    "label": label,
                    "verdict": verdict(answer.text),
                    "cited_gold": any(c.paper_id == pmid for c in answer.citations),
                    "cited": len({c.paper_id for c in answer.citations}),
                    "mode": answer.mode,
                    "answer": answer.text,
                })
            progress(i, len(test))
    finally:
        assistant.close()
    n = len(rows)
    summary = {
        "questions": n,
        "accuracy": round(sum(r["verdict"] == r["label"] for r in rows) / n, 4) if n else None,
        "gold_paper_cited": round(sum(r["cited_gold"] for r in rows) / n, 4) if n else None,  # citation recall (one gold paper)
        "citation_precision": citation_precision(rows),
        "errors": sum(1 for r in rows if "error" in r),
        "not_llm_answers": sum(1 for r in rows if r.get("mode") not in (None, "llm")),
        "labels": dict(Counter(r["label"] for r in rows)),
        "verdicts": dict(Counter(str(r["verdict"]) for r in rows)),
        "model": settings.llm.model,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "pubmedqa.json").write_text(json.dumps({"summary": summary, "questions": rows}, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=2))
    if summary["not_llm_answers"]:
        print(f"warning: {summary['not_llm_answers']} answers did not come from the LLM (fallback or extractive).", file=sys.stderr)
    print(f"Wrote {out / 'pubmedqa.json'}")
    return 0
