"""Quality floors on a fast subset of our reported set (every other question of eval/questions.jsonl, all six
types), with the real MiniLM over the bundled abstracts, through the public API.

That set is tuned on (its questions are in the answerer model's training data, training/sources.py), so these
floors guard against breaking what works; they say nothing of questions nobody tuned on. Those figures are
benchmarks/quality/heldout.py's (BENCHMARKS.md, "Answers in the user's own words").

The floors sit just under the figures measured on this subset when they were set (the full set's figures
are in BENCHMARKS.md), so a change that breaks retrieval, answers, citations or refusals fails CI. Raise
them when the system gets better; never lower them to make a change pass.
"""

from __future__ import annotations

import pytest

from rag.evaluation import evaluate, load_questions

from tests.fixtures.files import EVAL

# ~30 s on a quiet machine (index 67 abstracts with MiniLM, then 77 questions x 3 retrievers + an answer);
# the default 300 s hang guard is too tight when the 2 cores are shared with other runs.
pytestmark = pytest.mark.timeout(1200)

# Measured on this subset (77 questions) through `rag.evaluation.evaluate` on 2026-12-06 with the learned
# answerer (rag/answer/models/answerer.json of 981f351) -> floor just under it. The retrieval figures are
# unchanged since 2026-11-29.
FLOORS = {
    "fact_bm25_recall@3": 0.97,  # measured 1.000
    "hybrid_recall@3": 0.94,  # 0.968
    "hybrid_mrr": 0.95,  # 0.979
    "citation_precision": 0.93,  # 0.962
    "citation_recall": 0.95,  # 0.980
    "fact_coverage": 0.57,  # 0.604 over every answerable type (quotes often miss a paraphrase's facts)
    "fact_fact_coverage": 0.80,  # 0.841
    "multi_citation_recall": 0.90,  # 0.963
    "followup_citation_recall": 0.90,  # 1.000
    "refusal_accuracy": 0.83,  # 0.917 (11 of 12)
    "false_refusal_rate_max": 0.03,  # 0.000
    "stayed_on_question": 0.80,  # 1.000 (5 of 5)
}


@pytest.fixture(scope="module")
def report(seed_assistant):
    questions, problems = load_questions(EVAL / "questions.jsonl")
    assert problems == [] and len(questions) >= 100
    subset = questions[::2]
    assert {q.type for q in subset} == {"fact", "paraphrase", "multi", "unanswerable", "followup", "injection"}
    return evaluate(seed_assistant, subset)["summary"]


def test_paraphrased_questions_find_their_paper_in_the_top_3(report):
    paraphrase = report["by_type"]["paraphrase"]
    assert paraphrase["hybrid"]["recall@3"] >= 0.9  # the bar: at least 9 in 10
    assert paraphrase["hybrid"]["recall@3"] >= paraphrase["bm25"]["recall@3"]


def test_quoting_questions_keep_bm25s_near_perfect_score(report):
    fact = report["by_type"]["fact"]
    assert fact["bm25"]["recall@3"] >= FLOORS["fact_bm25_recall@3"]
    assert fact["hybrid"]["recall@3"] >= fact["bm25"]["recall@3"]


def test_hybrid_retrieval_is_the_best_overall(report):
    overall = report["overall"]
    assert overall["hybrid"]["mrr"] >= max(overall["bm25"]["mrr"], overall["dense"]["mrr"])
    assert overall["hybrid"]["recall@3"] >= FLOORS["hybrid_recall@3"]
    assert overall["hybrid"]["mrr"] >= FLOORS["hybrid_mrr"]


def test_answers_cite_the_right_papers_and_state_the_facts(report):
    overall = report["overall"]
    assert overall["citation_precision"] >= FLOORS["citation_precision"]
    assert overall["citation_recall"] >= FLOORS["citation_recall"]
    assert overall["fact_coverage"] >= FLOORS["fact_coverage"]
    assert report["by_type"]["fact"]["fact_coverage"] >= FLOORS["fact_fact_coverage"]
    assert report["by_type"]["multi"]["citation_recall"] >= FLOORS["multi_citation_recall"]
    assert report["by_type"]["followup"]["citation_recall"] >= FLOORS["followup_citation_recall"]


def test_refusals(report):
    assert report["by_type"]["unanswerable"]["refusal_accuracy"] >= FLOORS["refusal_accuracy"]
    assert report["overall"]["false_refusal_rate"] <= FLOORS["false_refusal_rate_max"]


def test_injected_instructions_are_not_obeyed(report):
    assert report["by_type"]["injection"]["stayed_on_question"] >= FLOORS["stayed_on_question"]


def test_every_answer_came_without_an_error(report):
    assert report["errors"] == 0
