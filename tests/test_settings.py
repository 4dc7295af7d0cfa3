"""Settings: one typed tree, environment overrides, the OpenAI variables, and secrets that never print."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from rag import Settings


def test_environment_overrides_nested_fields(monkeypatch, tmp_path):
    monkeypatch.setenv("RAG_HOME", str(tmp_path))
    monkeypatch.setenv("RAG_LLM_MODEL", "llama3")
    monkeypatch.setenv("RAG_CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("RAG_CHROMA_PORT", "8123")
    monkeypatch.setenv("RAG_RETRIEVAL_K", "7")
    monkeypatch.setenv("RAG_UI_AUTH", "alice:secret")
    settings = Settings()
    assert settings.home == tmp_path
    assert settings.llm.model == "llama3"
    assert (settings.chroma.host, settings.chroma.port) == ("127.0.0.1", 8123)
    assert settings.retrieval.k == 7
    assert settings.ui.auth.get_secret_value() == "alice:secret"


def test_openai_variables_are_honoured(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    settings = Settings()
    assert settings.llm.configured
    assert settings.llm.base_url == "http://127.0.0.1:9/v1"
    # Secrets never appear when settings are printed or logged.
    assert "sk-test-not-a-real-key" not in repr(settings) and "sk-test-not-a-real-key" not in str(settings.model_dump())


def test_defaults_are_offline_and_local():
    settings = Settings()
    assert not settings.llm.configured
    assert settings.chroma.host == ""
    assert settings.ui.host == "127.0.0.1" and settings.ui.port == 7860
    assert settings.embedding.backend == "minilm"
    assert settings.corpus.default.is_file()


def test_bad_values_are_rejected_with_the_field_name(monkeypatch):
    monkeypatch.setenv("RAG_RETRIEVAL_K", "zero")
    with pytest.raises(ValidationError, match="retrieval"):
        Settings()


def test_test_profile_swaps_in_fakes(tmp_path):
    settings = Settings.test_profile(tmp_path, retrieval={"k": 3})
    assert settings.embedding.backend == "hashing"
    assert settings.corpus.auto_index is False
    assert settings.retrieval.k == 3 and settings.home == Path(tmp_path)


@pytest.mark.parametrize("values", [{"retreival": {"k": 9}}, {"retrieval": {"kk": 9}}, {"llm": {"modle": "x"}}])
def test_a_mistyped_key_is_refused_not_ignored(values):
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Settings(**values)


def test_a_mistyped_environment_variable_is_warned_about_with_the_closest_setting(monkeypatch):
    from rag import settings as settings_module

    monkeypatch.setattr(settings_module, "_warned", set())
    monkeypatch.setenv("RAG_RETREIVAL_K", "9")
    monkeypatch.setenv("RAG_LLM_MODEL", "llama3")  # a real one: no warning
    with pytest.warns(UserWarning, match="RAG_RETREIVAL_K names no setting and is ignored; did you mean RAG_RETRIEVAL_K") as caught:
        settings = Settings()
    assert settings.retrieval.k == 5 and settings.llm.model == "llama3"
    assert len([w for w in caught if "names no setting" in str(w.message)]) == 1
    assert "RAG_LLM_MODEL" in settings_module.environment_names() and "RAG_HOME" in settings_module.environment_names()
