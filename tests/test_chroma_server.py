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
    assert other.retrieve("Frank-Wolfe online dictionary learning", k=1, mode="bm25")[0].paper_id == hits[0].paper_id
    again = other.ingest([BUNDLED])
    assert again.unchanged == 67 and again.added == 0
