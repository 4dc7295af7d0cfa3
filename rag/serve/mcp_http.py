"""`rag mcp --http`: the MCP server over Streamable HTTP (http://HOST:PORT/mcp), behind our key check.

The SDK's own auth is OAuth (an authorization server, token introspection); a shared bearer key is what
`rag serve` uses and what MCP clients' "headers" settings can send, so the key is checked here, in a
thin ASGI layer in front of the SDK's app, before a request reaches it.
"""

from __future__ import annotations

import json
from typing import Any

from mcp.server.mcpserver import MCPServer

from rag.serve.access import key_problem
from rag.serve.run import bind, serve_app, shown_host
from rag.settings import ServeSettings

__all__ = ["KeyCheck", "http_app", "serve_http"]


class KeyCheck:
    """ASGI middleware: HTTP requests without the right ``Authorization: Bearer`` key get 401 (JSON-RPC error)."""

    def __init__(self, app: Any, settings: ServeSettings) -> None:
        self.app = app
        self.api_key = settings.api_key

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and self.api_key.get_secret_value():
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
            problem = key_problem(headers.get("authorization"), self.api_key)
            if problem:
                body = json.dumps({"jsonrpc": "2.0", "id": None, "error": {"code": -32001, "message": problem}}).encode()
                await send({"type": "http.response.start", "status": 401, "headers": [
                    (b"content-type", b"application/json"), (b"www-authenticate", b"Bearer"), (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def http_app(server: MCPServer, settings: ServeSettings, host: str) -> KeyCheck:
    """The Streamable HTTP app at /mcp (stateless: any number of clients, no session to lose on a restart)."""
    app = server.streamable_http_app(
        stateless_http=True,
        json_response=True,
        max_request_body_size=settings.max_body_kb * 1024,
        host=host,  # on loopback the SDK turns on its Host/Origin check
    )
    return KeyCheck(app, settings)


def serve_http(server: MCPServer, settings: ServeSettings, host: str, port: int) -> None:
    sock = bind(host, port, setting="RAG_SERVE_MCP_PORT")
    keyed = " (API key required)" if settings.api_key.get_secret_value() else ""
    url = f"http://{shown_host(host)}:{sock.getsockname()[1]}/mcp"
    serve_app(http_app(server, settings, host), sock,
              on_started=lambda: print(f"The MCP server is on {url}{keyed}. Ctrl-C stops it.", flush=True))
