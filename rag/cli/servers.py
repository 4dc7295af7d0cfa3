"""`rag ui`: the servers over the assistant. The CLI reaches `ui` only here, from its entry point."""

from __future__ import annotations

import argparse


def cmd_ui(args: argparse.Namespace) -> int:
    from ui.app import serve

    serve(host=args.host, port=args.port)
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser("ui", help="the web chat")
    p.add_argument("--host", default=None, help="default: settings (127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="default: settings (7860)")
    p.set_defaults(func=cmd_ui)
