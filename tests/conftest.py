"""Shared fixtures, from tests/fixtures/ (its __init__ has the map). Everything runs offline: no test
reaches past 127.0.0.1."""

from __future__ import annotations

import os

# Set before anything imports gradio, transformers or chromadb.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["ANONYMIZED_TELEMETRY"] = "False"

pytest_plugins = [
    "tests.fixtures.assistants",
    "tests.fixtures.servers",
    "tests.fixtures.processes",
]
