"""`rag ingest` and `rag papers`: what goes into the index, and what is in it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rag.cli.common import make_assistant
from rag.errors import RagError


def _salvaged_embedder(old_home: str):
    """The model behind vectors read back from a damaged folder (`rag.index.salvage`)."""
    from rag.index.embedding import make_embedder
    from rag.index.salvage import SalvagedEmbedder, salvage
    from rag.settings import Settings

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


def cmd_ingest(args: argparse.Namespace) -> int:
    embedder = _salvaged_embedder(args.vectors_from) if args.vectors_from else None
    assistant = make_assistant(args, embedder)
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


def cmd_papers(args: argparse.Namespace) -> int:
    assistant = make_assistant(args)
    papers = assistant.papers(search=args.search or "", limit=args.limit, offset=args.offset)
    if args.json:
        print(json.dumps([p.model_dump() for p in papers], indent=2, ensure_ascii=False))
        return 0
    print(f"{assistant.count()} papers indexed; showing {len(papers)}")
    for paper in papers:
        extra = " · ".join(x for x in (paper.date, ", ".join(paper.categories)) if x)
        print(f"  {paper.paper_id:24} {paper.title}" + (f"  ({extra})" if extra else ""))
    return 0


def add_parsers(sub) -> None:
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

    p = sub.add_parser("papers", help="list or search what is indexed")
    p.add_argument("--search", help="BM25 search over titles and abstracts")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--offset", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_papers)
