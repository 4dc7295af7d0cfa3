"""Moved to tests/fixtures/servers.py; kept so that `from tests.fake_openai import FakeOpenAI, Reply, Request`
(benchmarks/perf/llm_overhead.py, benchmarks/quality/injection.py) keeps working. Tests import the fixtures module."""

from tests.fixtures.servers import FakeOpenAI, Reply, Request

__all__ = ["FakeOpenAI", "Reply", "Request"]
