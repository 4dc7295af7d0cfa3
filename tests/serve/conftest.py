"""What the server tests share: the bundled 67 abstracts indexed with the hashing embedder (~2 s)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag import Assistant, Settings
from tests.fixtures.files import BUNDLED

DICTIONARY_QUESTION = "What convergence rate does the online dictionary learner get?"
DICTIONARY_PAPER = "Online Orthogonal Dictionary Learning Based on Frank-Wolfe Method"
FOLLOW_UP = "And what data did they test it on?"
UNANSWERABLE = "What is the boiling point of tungsten?"
REFUSAL = "The indexed abstracts don't answer this."


def indexed_home(path: Path) -> Path:
    """``path`` holding the bundled corpus, indexed with the hashing embedder (the test profile)."""
    assistant = Assistant(Settings.test_profile(path))
    try:
        assistant.ingest([BUNDLED])
    finally:
        assistant.close()
    return path


@pytest.fixture(scope="module")
def bundled_home(tmp_path_factory) -> Path:
    """A data folder of this test module's own (a server in a child process may open it too)."""
    return indexed_home(tmp_path_factory.mktemp("bundled-home"))
