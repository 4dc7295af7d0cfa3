"""`rag ask`, `rag chat` and `rag retrieve`: questions from the terminal."""

from __future__ import annotations

import argparse
import json
import sys

from rag.cli.common import add_filter_flags, filters_of, make_assistant, print_answer
from rag.cli.feedback import ChatFeedback
from rag.errors import RagError

ANSWER_MODES = ["auto", "extractive", "llm"]


def cmd_ask(args: argparse.Namespace) -> int:
    assistant = make_assistant(args)
    form = "json" if args.json else args.format
    if form != "text":
        answer = assistant.ask(args.question, k=args.k, filters=filters_of(args))
        exported = {"json": answer.to_json(indent=2), "markdown": answer.to_markdown(), "bibtex": answer.to_bibtex()}[form]
        if exported.strip():
            print(exported.rstrip("\n"))
        else:
            print("Nothing is cited (the abstracts don't answer this), so there is no BibTeX entry.", file=sys.stderr)
        return 0
    stream = assistant.stream(args.question, k=args.k, filters=filters_of(args))
    streamed = []
    for piece in stream:
        streamed.append(piece)
        print(piece, end="", flush=True)
    print()
    answer = stream.answer
    same = "".join(streamed).strip() == answer.text.strip()
    if not same:
        print("\nChecked answer:")
    print_answer(answer, stream_printed=same)
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    assistant = make_assistant(args)
    assistant.ensure_ready(progress=True)
    print(f"Ask about the {assistant.count()} indexed papers. /up or /down rates an answer, /help lists the commands, "
          "/quit (or Ctrl-D) leaves.")
    history: list[dict] = []
    feedback = ChatFeedback(assistant)
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
            feedback.clear()
            print("(conversation cleared)")
            continue
        if not question:
            continue
        reply = feedback.handle(question) if question.startswith("/") else None
        if reply is not None:
            print(reply)
            continue
        print("assistant> ", end="", flush=True)
        try:
            stream = assistant.stream(question, history, k=args.k)
            for piece in stream:
                print(piece, end="", flush=True)
            answer = stream.answer
        except RagError as exc:
            print(f"\n{exc}")
            continue
        print()
        print_answer(answer, stream_printed=True)
        history += [{"role": "user", "content": question}, answer.as_message()]
        feedback.answered(answer)


def cmd_retrieve(args: argparse.Namespace) -> int:
    assistant = make_assistant(args)
    hits = assistant.retrieve(args.query, k=args.k, filters=filters_of(args), retriever=args.retriever)
    if args.json:
        print(json.dumps([h.model_dump() for h in hits], indent=2, ensure_ascii=False))
        return 0
    for rank, hit in enumerate(hits, start=1):
        print(f"{rank:2d}. {hit.score:.3f}  {hit.title}  [{hit.paper_id}]")
        print(f"      {hit.text[:200]}")
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser("ask", help="answer one question")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="the whole Answer as JSON (--format json)")
    p.add_argument("--format", choices=["text", "markdown", "bibtex", "json"], default="text",
                   help="text (streamed), markdown (the answer and its references), bibtex (its cited papers) or json")
    p.add_argument("-k", type=int, default=None, help="papers to consider")
    p.add_argument("--answer-mode", "--mode", dest="answer_mode", choices=ANSWER_MODES, help="answerer (default: settings)")
    add_filter_flags(p)
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("chat", help="a conversation in the terminal")
    p.add_argument("-k", type=int, default=None)
    p.add_argument("--answer-mode", "--mode", dest="answer_mode", choices=ANSWER_MODES)
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("retrieve", help="the papers that best match a query")
    p.add_argument("query")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--retriever", choices=["hybrid", "dense", "bm25"], default=None)
    p.add_argument("--json", action="store_true")
    add_filter_flags(p)
    p.set_defaults(func=cmd_retrieve)
