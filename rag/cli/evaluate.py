"""`rag eval`: a question set (default), `beir` (SciFact) and `pubmedqa`, all through the `Assistant` API."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rag.errors import RagError


def run_questions(args: argparse.Namespace) -> int:
    """`rag eval --questions FILE [--out DIR]`."""
    from rag.assistant import Assistant
    from rag.settings import Settings
    from rag.evaluation.questions import load_questions
    from rag.evaluation.report import write_report
    from rag.evaluation.progress import progress_printer
    from rag.evaluation.scoring import RETRIEVERS, evaluate

    questions, problems = load_questions(args.questions)
    for problem in problems:
        print(f"skipped {problem}", file=sys.stderr)
    if args.limit:
        questions = questions[: args.limit]
    if not questions:
        raise RagError(f"No valid question in {args.questions}; nothing to evaluate.")
    retrievers = tuple(r.strip() for r in args.retrievers.split(",") if r.strip())
    unknown = [r for r in retrievers if r not in RETRIEVERS]
    if unknown or not retrievers:
        raise RagError(f"--retrievers takes a comma-separated list of {', '.join(RETRIEVERS)}; got {args.retrievers!r}.")
    overrides: dict = {}
    if args.home:
        overrides["home"] = Path(args.home)
    if args.answer_mode:
        overrides["answer"] = {"mode": args.answer_mode}
    assistant = Assistant(Settings(**overrides))
    try:
        report = evaluate(assistant, questions, retrievers, on_progress=progress_printer("questions"))
    finally:
        assistant.close()
    report = {
        "questions_file": str(args.questions),
        "answer_mode": assistant.settings.answer.mode,
        "problems": problems,
        **report,
    }
    written = write_report(report, Path(args.out))
    print((Path(args.out) / "report.md").read_text(encoding="utf-8"))
    print("Wrote " + ", ".join(str(p) for p in written))
    return 0


def run_beir(args: argparse.Namespace) -> int:
    """`rag eval beir --data DIR --split test [--home DIR]`."""
    from rag.evaluation.beir import main

    return main(args)


def run_pubmedqa(args: argparse.Namespace) -> int:
    """`rag eval pubmedqa --data DIR`."""
    from rag.evaluation.pubmedqa import main

    return main(args)


def add_parser(sub) -> None:
    """The `eval` subcommand and its own subcommands, on the `rag` parser's subparsers."""
    p = sub.add_parser(
        "eval",
        help="score a question set (or `beir`, `pubmedqa`) through the Assistant API",
        description="Score a question set through the Assistant API: `rag eval --questions FILE --out DIR`. "
        "Public benchmarks: `rag eval beir --data DIR` (SciFact), `rag eval pubmedqa --data DIR`.",
    )
    p.add_argument("--questions", default="eval/questions.jsonl", help="JSON Lines question set (eval/README.md)")
    p.add_argument("--out", default="eval/results", help="folder for report.json, report.md and the plots")
    p.add_argument("--retrievers", default="bm25,dense,hybrid", help="retrievers compared side by side")
    p.add_argument("--limit", type=int, help="only the first N questions")
    p.add_argument("--home", help="data folder of the index to evaluate (default: RAG_HOME)")
    p.add_argument("--answer-mode", "--mode", dest="answer_mode", choices=["auto", "extractive", "llm"], help="answerer (default: settings)")
    p.set_defaults(func=run_questions)
    evals = p.add_subparsers(dest="benchmark", metavar="{beir,pubmedqa}")

    b = evals.add_parser("beir", help="SciFact (BEIR format): nDCG@10, recall@10/100 per retriever")
    b.add_argument("--data", default="../shared/data/scifact", help="folder with corpus.jsonl, queries.jsonl, qrels/")
    b.add_argument("--split", default="test", help="qrels split: test (report) or train (tuning)")
    b.add_argument("--home", help="data folder of the benchmark's own index (default: RAG_HOME/beir/<name>)")
    b.add_argument("--out", default="eval/results/beir", help="folder for beir_<split>.json and .md")
    b.add_argument("--retrievers", default="bm25,dense,hybrid")
    b.add_argument("--limit", type=int, help="only the first N queries")
    b.set_defaults(func=run_beir)

    q = evals.add_parser("pubmedqa", help="PubMedQA: yes/no/maybe accuracy, citation precision and recall of the gold paper (needs an LLM)")
    q.add_argument("--data", default="../shared/data/pubmedqa", help="folder with ori_pqal.json, test_ground_truth.json")
    q.add_argument("--home", help="data folder of the benchmark's own index (default: RAG_HOME/beir/pubmedqa)")
    q.add_argument("--out", default="eval/results/pubmedqa")
    q.add_argument("--limit", type=int, help="only the first N test questions")
    q.set_defaults(func=run_pubmedqa)
