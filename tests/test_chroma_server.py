"""The same code against a real Chroma server (`chroma run` on 127.0.0.1) instead of the embedded store."""

from __future__ import annotations

import pytest

from rag import Assistant, Settings
from rag.errors import StoreError
from tests.fixtures.files import BUNDLED
from tests.fixtures.servers import TokenProxy

# `chroma_server` (tests/fixtures/servers.py): the port of a `chroma run` started for this module.
pytestmark = pytest.mark.server


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


def test_a_token_protected_server_needs_the_token(tmp_path, chroma_server):
    with TokenProxy(chroma_server, "s3cret-token") as proxy:
        base = {"host": "127.0.0.1", "port": proxy.port, "collection": "token-test"}
        with pytest.raises(StoreError) as info:
            Assistant(Settings.test_profile(tmp_path / "a", chroma=base))
        assert "RAG_CHROMA_TOKEN" in str(info.value)
        assert "s3cret-token" not in str(info.value)
        assistant = Assistant(Settings.test_profile(tmp_path / "b", chroma={**base, "token": "s3cret-token"}))
        assistant.ingest([BUNDLED])
        assert assistant.retrieve("Frank-Wolfe dictionary learning", k=1)[0].title.startswith("Online Orthogonal")
