"""`rag ui`, `rag serve`, `rag mcp`: the servers over the assistant. The CLI reaches `ui` only here, from its
entry point; the other two are `rag.serve`'s."""

from __future__ import annotations

import argparse


def cmd_ui(args: argparse.Namespace) -> int:
    from ui.app import serve

    serve(host=args.host, port=args.port)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from rag.serve.openai_api import serve

    serve(host=args.host, port=args.port)
    return 0


def cmd_mcp(args: argparse.Namespace) -> int:
    from rag.serve.mcp_server import serve_mcp

    serve_mcp(http=args.http, host=args.host, port=args.port)
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser("ui", help="the web chat")
    p.add_argument("--host", default=None, help="default: settings (127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="default: settings (7860)")
    p.set_defaults(func=cmd_ui)

    p = sub.add_parser("serve", help="an OpenAI-compatible chat endpoint (/v1/chat/completions)")
    p.add_argument("--host", default=None, help="default: settings (127.0.0.1; another address needs RAG_SERVE_API_KEY)")
    p.add_argument("--port", type=int, default=None, help="default: settings (8000)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("mcp", help="a Model Context Protocol server (stdio, or --http)")
    p.add_argument("--http", action="store_true", help="Streamable HTTP at http://HOST:PORT/mcp instead of stdio")
    p.add_argument("--host", default=None, help="with --http; default: settings (127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="with --http; default: settings (8001)")
    p.set_defaults(func=cmd_mcp)
