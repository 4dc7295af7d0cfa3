"""`rag ... | head`: a reader that goes away stops the command quietly, without a Python trace."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.fixtures.files import BUNDLED
from tests.fixtures.processes import cli_env


def test_a_closed_pipe_ends_the_command_without_a_trace(tmp_path):
    env = cli_env(tmp_path / "home")
    subprocess.run([sys.executable, "-m", "rag.cli", "ingest", str(BUNDLED)], env=env, check=True, capture_output=True)
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
