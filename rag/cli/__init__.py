"""`rag`: the command line, a thin layer over `Assistant`.

    rag ingest PATH...          add corpus files (page text, JSON Lines, JSON, CSV; .gz too)
                                --vectors-from OLD_FOLDER rebuilds a damaged index without re-embedding
    rag ask "QUESTION" [--json] answer one question with citations (--format markdown|bibtex|json)
    rag chat                    a conversation in the terminal
    rag retrieve "QUERY"        the best-matching papers, with scores
    rag papers [--search Q]     what is indexed
    rag sync [hf-daily|arxiv]   fetch new papers from the Hugging Face daily papers and arXiv; --every 6h keeps at it
    rag ui                      the web chat (Gradio)
    rag serve                   an OpenAI-compatible chat endpoint (/v1/chat/completions)
    rag mcp [--http]            a Model Context Protocol server (tools: ask, search_papers, get_paper)
    rag feedback list|delete|export   the feedback given on answers; export: questions for `rag eval`
    rag eval --questions FILE   score a question set (see eval/README.md); `rag eval beir`, `rag eval pubmedqa`
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from rag.cli import corpus, evaluate, feedback, feeds, questions, servers
from rag.errors import RagError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description=__doc__.split("\n\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    sub = parser.add_subparsers(dest="command", required=True)
    corpus.add_parsers(sub)
    feeds.add_parsers(sub)
    questions.add_parsers(sub)
    servers.add_parsers(sub)
    evaluate.add_parser(sub)
    feedback.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`rag feedback list | head`): stop quietly, as other Unix tools do. Python
        # would otherwise print a trace, and again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
