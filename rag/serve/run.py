"""Starting the HTTP servers: `rag serve` in the foreground, or any ASGI app in a background thread.

The socket is bound here, before uvicorn starts, so an address in use is a message (`RagError`) rather
than uvicorn's log line and exit. `ServerThread` serves an app on 127.0.0.1 from a daemon thread
(port 0: the system picks a free one): the tests and benchmarks/perf/serve.py use it.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn

from rag.errors import RagError

log = logging.getLogger(__name__)

__all__ = ["ServerThread", "bind", "serve_app", "shown_host"]


def bind(host: str, port: int, setting: str = "RAG_SERVE_PORT") -> socket.socket:
    """A listening socket on ``host:port`` (IPv4 or IPv6); `RagError` naming the fix when it can't be had."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        raise RagError(f"Can't serve on {host}:{port} ({exc.strerror or exc}). Is the port in use? Pick another with --port or {setting}.") from None
    sock.set_inheritable(True)
    return sock


def shown_host(host: str) -> str:
    """The address to print for a client: a wildcard address is reached through 127.0.0.1."""
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _config(app: Any) -> uvicorn.Config:
    # Access logs off: they would print every request's path and client; our own log says what failed.
    # lifespan "auto" runs an app's start-up (the MCP app's session manager needs it) and skips one without.
    return uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=5, lifespan="auto")


def serve_app(app: Any, sock: socket.socket, on_started: Callable[[], None] | None = None) -> None:
    """Serve ``app`` on ``sock`` until Ctrl-C (uvicorn handles the signal and finishes open requests)."""
    server = uvicorn.Server(_config(app))
    if on_started is not None:
        threading.Thread(target=_when_started, args=(server, on_started), daemon=True).start()
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn has finished the open requests, then passes Ctrl-C on: it is how the user stops us
    print("Stopped.", flush=True)


def _when_started(server: uvicorn.Server, callback: Callable[[], None]) -> None:
    while not server.started and not server.should_exit:
        time.sleep(0.05)
    if server.started:
        callback()


class ServerThread:
    """An ASGI app served on 127.0.0.1 from a daemon thread: ``with ServerThread(app) as server: server.url``."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self._sock = bind(host, port)
        self.host, self.port = host, self._sock.getsockname()[1]
        self._server = uvicorn.Server(_config(app))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, name="serve", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{shown_host(self.host)}:{self.port}"

    def start(self, timeout: float = 30) -> "ServerThread":
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RagError(f"The server on {self.url} did not start.")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)
        self._sock.close()

    def __enter__(self) -> "ServerThread":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
