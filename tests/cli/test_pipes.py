"""`rag ... | head`: a reader that goes away stops the command quietly, without a Python trace."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # a subprocess that loads the package and opens the bundled index


def test_a_closed_pipe_ends_the_command_without_a_trace(tmp_path):
    env = {**os.environ, "RAG_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1"}
    # --json of every paper with its abstract is ~100 KB: more than a pipe holds, so the writer meets EPIPE.
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "papers", "--json", "--limit", "1000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )
    first = proc.stdout.read(100)
    proc.stdout.close()  # what `head -c 100` does
    stderr = proc.stderr.read().decode()
    code = proc.wait(timeout=300)
    assert first
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
    assert code == 141
