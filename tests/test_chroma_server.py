"""The same code against a real Chroma server (`chroma run` on 127.0.0.1) instead of the embedded store."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from rag import Assistant, Settings

from .conftest import BUNDLED

pytestmark = pytest.mark.server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    binary = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    port = free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    process = subprocess.Popen(
        [binary, "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1)
            break
        except OSError:
            if time.time() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail("chroma run did not start")
            time.sleep(0.2)
    yield port
    process.terminate()
    process.wait(timeout=10)


def test_ingest_and_ask_through_a_chroma_server(tmp_path, chroma_server):
    settings = Settings.test_profile(tmp_path / "home", chroma={"host": "127.0.0.1", "port": chroma_server, "collection": "server-test"})
    assistant = Assistant(settings)
    assert assistant.store.location == f"http://127.0.0.1:{chroma_server}"
    report = assistant.ingest([BUNDLED])
    assert report.added == 67 and assistant.count() == 67
    assert not (tmp_path / "home" / "chroma").exists()  # nothing went into an embedded store
    hits = assistant.retrieve("Frank-Wolfe online dictionary learning", k=3)
    assert hits[0].title == "Online Orthogonal Dictionary Learning Based on Frank-Wolfe Method"

    # A second machine sharing the server, with a fresh local home, rebuilds its BM25 side from Chroma.
    other = Assistant(Settings.test_profile(tmp_path / "other-home", chroma=settings.chroma.model_dump()))
    other.ensure_ready()
    assert other.lexical.count() == 67
    assert other.retrieve("Frank-Wolfe online dictionary learning", k=1, retriever="bm25")[0].paper_id == hits[0].paper_id
    again = other.ingest([BUNDLED])
    assert again.unchanged == 67 and again.added == 0


class _TokenProxy:
    """A reverse proxy that lets only requests carrying the bearer token through to Chroma: how a Chroma
    server is locked down in front of `chroma run` (nginx or similar in production)."""

    def __init__(self, upstream_port: int, token: str) -> None:
        import http.client
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _forward(self):
                if self.headers.get("Authorization") != f"Bearer {token}":
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "authorization")}
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                data = response.read()
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in ("transfer-encoding", "content-length", "connection"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def test_a_token_protected_server_needs_the_token(tmp_path, chroma_server):
    from rag.errors import StoreError

    proxy = _TokenProxy(chroma_server, "s3cret-token")
    try:
        base = {"host": "127.0.0.1", "port": proxy.port, "collection": "token-test"}
        with pytest.raises(StoreError) as info:
            Assistant(Settings.test_profile(tmp_path / "a", chroma=base))
        assert "RAG_CHROMA_TOKEN" in str(info.value)
        assert "s3cret-token" not in str(info.value)
        assistant = Assistant(Settings.test_profile(tmp_path / "b", chroma={**base, "token": "s3cret-token"}))
        assistant.ingest([BUNDLED])
        assert assistant.retrieve("Frank-Wolfe dictionary learning", k=1)[0].title.startswith("Online Orthogonal")
    finally:
        proxy.close()
