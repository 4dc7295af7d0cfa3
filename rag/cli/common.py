"""What every `rag` subcommand shares: the assistant it talks to, the filter flags, printing an answer."""

from __future__ import annotations

import argparse

from rag.assistant import Assistant
from rag.settings import Settings


def make_assistant(args: argparse.Namespace, embedder=None) -> Assistant:
    overrides: dict = {}
    if getattr(args, "answer_mode", None):
        overrides["answer"] = {"mode": args.answer_mode}
    return Assistant(Settings(**overrides), embedder=embedder)


def add_filter_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--date-from", help="only papers dated on or after (YYYY, YYYY-MM or YYYY-MM-DD)")
    parser.add_argument("--date-to", help="only papers dated on or before")
    parser.add_argument("--category", action="append", help="only papers in this category (repeatable)")
    parser.add_argument("--paper", action="append", help="only this paper id (repeatable)")


def filters_of(args: argparse.Namespace) -> dict | None:
    filters = {
        "date_from": getattr(args, "date_from", None),
        "date_to": getattr(args, "date_to", None),
        "categories": getattr(args, "category", None) or [],
        "paper_ids": getattr(args, "paper", None) or [],
    }
    return filters if any(filters.values()) else None


def print_answer(answer, stream_printed: bool = False) -> None:
    """An answer's text (unless it was streamed), its notes, its unsupported claims and its sources."""
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
