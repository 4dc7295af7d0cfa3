"""Shared fixtures. Everything runs offline: no test reaches past 127.0.0.1."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Set before anything imports gradio, transformers or chromadb.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["ANONYMIZED_TELEMETRY"] = "False"

from rag import Assistant, Settings  # noqa: E402

DATA = Path(__file__).parent / "data"
BUNDLED = Path(__file__).parent.parent / "rag" / "data" / "trending_papers.txt"
EVAL = Path(__file__).parent.parent / "eval"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    """No developer's own configuration leaks into a test: no keys, no endpoints, no data folder."""
    for name in list(os.environ):
        if name.startswith(("RAG_", "OPENAI_")):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fast_settings(tmp_path) -> Settings:
    """The test profile: throwaway home, hashing embedder, no default corpus, no LLM."""
    return Settings.test_profile(tmp_path / "home")


@pytest.fixture
def fast_assistant(fast_settings) -> Assistant:
    assistant = Assistant(fast_settings)
    yield assistant
    assistant.close()


@pytest.fixture(scope="session")
def seed_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("seed-home")


@pytest.fixture(scope="session")
def seed_assistant(seed_home) -> Assistant:
    """The real thing: MiniLM over the bundled 67 abstracts, indexed once for the whole session."""
    os.environ.pop("OPENAI_API_KEY", None)
    os.environ.pop("OPENAI_BASE_URL", None)
    assistant = Assistant(Settings(home=seed_home, llm={"base_url": "", "api_key": ""}))
    assistant.ensure_ready()
    yield assistant
    assistant.close()


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
