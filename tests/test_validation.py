"""Bad filters and bad k are stopped at the API, with a message naming the field, before any store is touched.

Found by the hostile-input review: a date like "nodate", 100,000 paper ids in a history, a category with a
lone surrogate reached Chroma and came back as storage errors naming the server's data folder; k=0, -1,
10**9 and "abc" were accepted or ended in a TypeError.
"""

from __future__ import annotations

import pytest

from rag import InvalidQuestion
from rag.types import Filters

from tests.fixtures.files import ARXIV_SAMPLE


@pytest.fixture
def small(fast_assistant):
    fast_assistant.ingest([ARXIV_SAMPLE])
    return fast_assistant


@pytest.mark.parametrize(
    "filters, field",
    [
        ({"date_from": "nodate"}, "date_from"),
        ({"date_to": "2024-13"}, "date_to"),
        ({"date_from": "2023-02-30"}, "date_from"),
        ({"categories": ["cs.LG\ud800"]}, "categories"),
        ({"categories": ["x" * 500]}, "categories"),
        ({"paper_ids": [str(i) for i in range(100_000)]}, "paper_ids"),
        ({"paper_ids": [3]}, "paper_ids"),
        ({"datefrom": "2024"}, "datefrom"),
    ],
)
def test_a_bad_filter_is_refused_naming_its_field_before_the_store(small, filters, field, monkeypatch):
    def untouched(*args, **kwargs):
        raise AssertionError("the store was queried with a filter that should have been refused")

    monkeypatch.setattr(small.store, "nearest_chunks", untouched)
    monkeypatch.setattr(small.lexical, "search", untouched)
    for call in (lambda: small.ask("state space models", filters=filters), lambda: small.retrieve("state space models", filters=filters)):
        with pytest.raises(InvalidQuestion) as info:
            call()
        message = str(info.value)
        assert repr(field) in message and "not valid" in message
        assert str(small.settings.home) not in message and "Chroma" not in message


def test_good_filters_are_cleaned_and_kept():
    filters = Filters(date_from=" 2024-05 ", categories=["cs.LG", " cs.LG", "cs.CL"], paper_ids="2401.00001")
    assert filters.date_from == "2024-05" and filters.categories == ["cs.LG", "cs.CL"] and filters.paper_ids == ["2401.00001"]
    assert Filters(date_from="", date_to=None).is_empty()


@pytest.mark.parametrize("k", [0, -1, 10**9, "abc", 2.5, True, [3]])
def test_k_outside_one_to_the_maximum_is_a_clear_error_everywhere(small, k):
    for call in (lambda: small.ask("state space models", k=k), lambda: small.retrieve("state space models", k=k),
                 lambda: small.stream("state space models", k=k)):
        with pytest.raises(InvalidQuestion, match=r"k \(the number of papers to consider\) must be a whole number from 1 to 100"):
            call()


def test_k_from_a_web_form_as_digits_is_read(small):
    assert 1 <= len(small.retrieve("state space models", k="2")) <= 2
    answer = small.ask("state space models", k="5")
    assert answer.text and (answer.refused or answer.citations)


def test_a_history_carrying_100000_paper_ids_is_bounded_not_sent_to_the_store(small):
    history = [{"role": "user", "content": "state space models"},
               {"role": "assistant", "content": "An answer. [1]", "paper_ids": ["2401.00001"] * 50 + [str(i) for i in range(100_000)]}]
    answer = small.ask("and how fast is it?", history=history)
    assert answer.text  # an answer or the refusal, not a storage error


def test_the_cli_says_what_is_wrong_with_a_bad_filter_or_k(tmp_path, capsys, monkeypatch):
    from rag.cli import main

    monkeypatch.setenv("RAG_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RAG_EMBEDDING_BACKEND", "hashing")
    monkeypatch.setenv("RAG_CORPUS_AUTO_INDEX", "false")
    assert main(["ask", "state space", "--date-from", "nodate"]) == 2
    assert "'date_from' is not valid" in capsys.readouterr().err
    assert main(["ask", "state space", "-k", "0"]) == 2
    assert "whole number from 1 to 100" in capsys.readouterr().err
