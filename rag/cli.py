"""`rag`: the command line, a thin layer over `Assistant`.

    rag ingest PATH...          add corpus files (page text, JSON Lines, JSON, CSV; .gz too)
                                --vectors-from OLD_FOLDER rebuilds a damaged index without re-embedding
    rag ask "QUESTION" [--json] answer one question with citations
    rag chat                    a conversation in the terminal
    rag retrieve "QUERY"        the best-matching papers, with scores
    rag papers [--search Q]     what is indexed
    rag ui                      the web chat (Gradio)
    rag eval --questions FILE   score a question set (see eval/README.md); `rag eval beir`, `rag eval pubmedqa`
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from rag.errors import RagError


def _assistant(args: argparse.Namespace, embedder=None):
    from rag import Assistant, Settings

    overrides: dict = {}
    if getattr(args, "mode", None):
        overrides["answer"] = {"mode": args.mode}
    settings = Settings(**overrides) if overrides else Settings()
    return Assistant(settings, embedder=embedder)


def _salvaged_embedder(old_home: str):
    """The model behind vectors read back from a damaged folder (`rag.salvage`)."""
    from pathlib import Path

    from rag import Settings
    from rag.embedding import make_embedder
    from rag.salvage import SalvagedEmbedder, salvage

    settings = Settings()
    old = Path(old_home).expanduser()
    if old.resolve() == settings.home.resolve():
        raise RagError(
            f"--vectors-from {old} is the data folder being written (RAG_HOME): move the damaged folder aside "
            "first, then ingest into a new one."
        )
    print(f"Reading the vectors stored in {old}…", file=sys.stderr, flush=True)
    rows, vectors = salvage(old, settings.chroma.collection)
    print(f"{len(rows):,} chunk vectors found; chunks with the same text won't be embedded again.", file=sys.stderr, flush=True)
    e = settings.embedding
    return SalvagedEmbedder(rows, vectors, make_embedder(e.backend, batch_size=e.batch_size, threads=e.threads))


def _filters(args: argparse.Namespace) -> dict | None:
    filters = {
        "date_from": getattr(args, "date_from", None),
        "date_to": getattr(args, "date_to", None),
        "categories": getattr(args, "category", None) or [],
        "paper_ids": getattr(args, "paper", None) or [],
    }
    return filters if any(filters.values()) else None


def _print_answer(answer, stream_printed: bool = False) -> None:
    if not stream_printed:
        print(answer.text)
    for note in answer.notes:
        print(f"\nNote: {note}")
    if answer.unsupported:
        print("\nNot supported by the cited abstracts:")
        for sentence in answer.unsupported:
            print(f"  ! {sentence}")
    if answer.citations:
        print("\nSources:")
        for c in answer.citations:
            flag = "" if c.supported else "  (not supported by its text)"
            link = f"  {c.url}" if c.url else ""
            print(f"  [{c.number}] {c.title}{link}{flag}")


def cmd_ingest(args: argparse.Namespace) -> int:
    embedder = _salvaged_embedder(args.vectors_from) if args.vectors_from else None
    assistant = _assistant(args, embedder)
    try:
        report = assistant.ingest(args.paths, progress=args.progress, limit=args.limit)
    except KeyboardInterrupt:
        print(
            "\nInterrupted. Everything written so far is kept; run the same command again to carry on.",
            file=sys.stderr,
        )
        return 130
    if args.json:
        print(report.model_dump_json(indent=2))
        return 0
    print(report.summary())
    if embedder is not None:
        print(f"vectors reused from {args.vectors_from}: {embedder.reused:,}; embedded: {embedder.encoded:,}")
    shown = report.skipped[: args.show_skipped]
    for skip in shown:
        print(f"  skipped {skip}")
    if len(report.skipped) > len(shown):
        print(f"  ... and {len(report.skipped) - len(shown)} more skipped (--json lists them all)")
    print(f"{assistant.count()} papers indexed in {assistant.store.location}")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    assistant = _assistant(args)
    if args.json:
        answer = assistant.ask(args.question, k=args.k, filters=_filters(args))
        print(answer.to_json(indent=2))
        return 0
    from rag.types import Answer

    answer, streamed = None, []
    for piece in assistant.stream(args.question, k=args.k, filters=_filters(args)):
        if isinstance(piece, Answer):
            answer = piece
        else:
            streamed.append(piece)
            print(piece, end="", flush=True)
    print()
    assert answer is not None
    same = "".join(streamed).strip() == answer.text.strip()
    if not same:
        print("\nChecked answer:")
    _print_answer(answer, stream_printed=same)
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from rag.types import Answer

    assistant = _assistant(args)
    assistant.ensure_ready(progress=True)
    print(f"Ask about the {assistant.count()} indexed papers. /clear starts over, /quit (or Ctrl-D) leaves.")
    history: list[dict] = []
    while True:
        try:
            question = input("\nyou> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if question in ("/quit", "/exit"):
            return 0
        if question == "/clear":
            history.clear()
            print("(conversation cleared)")
            continue
        if not question:
            continue
        print("assistant> ", end="", flush=True)
        answer = None
        try:
            for piece in assistant.stream(question, history, k=args.k):
                if isinstance(piece, Answer):
                    answer = piece
                else:
                    print(piece, end="", flush=True)
        except RagError as exc:
            print(f"\n{exc}")
            continue
        print()
        assert answer is not None
        _print_answer(answer, stream_printed=True)
        history += [{"role": "user", "content": question}, answer.as_message()]


def cmd_retrieve(args: argparse.Namespace) -> int:
    assistant = _assistant(args)
    hits = assistant.retrieve(args.query, k=args.k, filters=_filters(args), mode=args.retriever)
    if args.json:
        print(json.dumps([h.model_dump() for h in hits], indent=2, ensure_ascii=False))
        return 0
    for rank, hit in enumerate(hits, start=1):
        print(f"{rank:2d}. {hit.score:.3f}  {hit.title}  [{hit.paper_id}]")
        print(f"      {hit.text[:200]}")
    return 0


def cmd_papers(args: argparse.Namespace) -> int:
    assistant = _assistant(args)
    papers = assistant.papers(search=args.search or "", limit=args.limit, offset=args.offset)
    if args.json:
        print(json.dumps([p.model_dump() for p in papers], indent=2, ensure_ascii=False))
        return 0
    print(f"{assistant.count()} papers indexed; showing {len(papers)}")
    for paper in papers:
        extra = " · ".join(x for x in (paper.date, ", ".join(paper.categories)) if x)
        print(f"  {paper.paper_id:24} {paper.title}" + (f"  ({extra})" if extra else ""))
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    from ui.app import serve

    serve(host=args.host, port=args.port)
    return 0


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--date-from", help="only papers dated on or after (YYYY, YYYY-MM or YYYY-MM-DD)")
    parser.add_argument("--date-to", help="only papers dated on or before")
    parser.add_argument("--category", action="append", help="only papers in this category (repeatable)")
    parser.add_argument("--paper", action="append", help="only this paper id (repeatable)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description=__doc__.split("\n\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="add corpus files to the index")
    p.add_argument("paths", nargs="+")
    p.add_argument("--limit", type=int, help="read at most N records")
    p.add_argument("--json", action="store_true", help="print the full report as JSON")
    p.add_argument("--show-skipped", type=int, default=20, metavar="N", help="list at most N skipped records")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    p.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="a progress bar even when stderr is not a terminal (a log file of a long run)")
    p.add_argument("--vectors-from", metavar="OLD_FOLDER",
                   help="rebuilding a damaged index: take each chunk's vector from this old data folder's files "
                        "when its text is unchanged, instead of embedding it again")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("ask", help="answer one question")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="the whole Answer as JSON")
    p.add_argument("-k", type=int, default=None, help="papers to consider")
    p.add_argument("--mode", choices=["auto", "extractive", "llm"], help="answerer (default: settings)")
    _add_filters(p)
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("chat", help="a conversation in the terminal")
    p.add_argument("-k", type=int, default=None)
    p.add_argument("--mode", choices=["auto", "extractive", "llm"])
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("retrieve", help="the papers that best match a query")
    p.add_argument("query")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--retriever", choices=["hybrid", "dense", "bm25"], default=None)
    p.add_argument("--json", action="store_true")
    _add_filters(p)
    p.set_defaults(func=cmd_retrieve)

    p = sub.add_parser("papers", help="list or search what is indexed")
    p.add_argument("--search", help="BM25 search over titles and abstracts")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--offset", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_papers)

    p = sub.add_parser("ui", help="the web chat")
    p.add_argument("--host", default=None, help="default: settings (127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="default: settings (7860)")
    p.set_defaults(func=cmd_ui)

    from rag.evaluation.commands import add_parser as add_eval_parser

    add_eval_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
