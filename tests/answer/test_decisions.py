"""The answerer's decisions with the shipped model over the bundled corpus (real MiniLM): a question in
other words is answered from the right paper, a near miss is refused. And the model file itself: what
ships is what was trained. (Citing a second paper when two are close, and a list question's further papers
above a threshold of their own, are in `AnswerModel.decide`, tested below on their own.)

(These questions were written for this test, none in any question set the model was tuned on or reported
with, except the two of the second-ranked test, which says why.)
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from rag.answer.answerability import FEATURES, MODEL_PATH, AnswerModel, RuleModel
from training.sources import HELD_OUT

DICTIONARY = "Online Orthogonal Dictionary Learning Based on Frank-Wolfe Method"


def test_a_paraphrase_is_answered_from_the_right_paper(seed_assistant):
    answer = seed_assistant.ask(
        "I half remember a paper on learning a set of mutually perpendicular basis vectors from data that "
        "arrives as a stream, using a projection-free optimiser. How fast does it converge?"
    )
    assert not answer.refused
    assert answer.citations[0].title == DICTIONARY


def test_a_near_miss_is_refused(seed_assistant):
    """The paper is there and about the subject; the detail asked for is not in its abstract."""
    answer = seed_assistant.ask("Which GPU model and how many hours did the Frank-Wolfe online orthogonal dictionary learning experiments take?")
    assert answer.refused and not answer.citations


def test_a_question_no_paper_is_about_is_refused(seed_assistant):
    answer = seed_assistant.ask("What do these papers say about the breeding habits of the Atlantic puffin?")
    assert answer.refused


@pytest.mark.parametrize("question_id", ["para-023", "para-036"])
def test_the_right_paper_ranked_second_is_answered_from_rather_than_the_first(seed_assistant, question_id):
    """The answer comes from the paper whose sentences answer, not from the one retrieval put first.

    Over 67 papers retrieval rarely ranks the right one second, and questions written for this test all came
    back first; these two are from our tuning set (eval/questions.jsonl), so the model saw them in training:
    this guards the behaviour, BENCHMARKS measures it."""
    from rag.evaluation import load_questions
    from tests.fixtures.files import EVAL

    questions, _ = load_questions(EVAL / "questions.jsonl")
    asked = next(q for q in questions if q.id == question_id)
    ranked = [h.title for h in seed_assistant.question(asked.question).hits]
    assert ranked[1] == asked.relevant_titles[0], f"retrieval no longer ranks the right paper second: {ranked[:3]}"
    answer = seed_assistant.ask(asked.question)
    assert [c.title for c in answer.citations] == asked.relevant_titles


def test_the_old_rules_stay_available_as_the_baseline(seed_home):
    from rag import Assistant, Settings

    assistant = Assistant(Settings(home=seed_home, answer={"decider": "rules"}, llm={"base_url": "", "api_key": ""}))
    try:
        assert isinstance(assistant.extractive.model, RuleModel)
        answer = assistant.ask("What convergence rate does the online dictionary learner get?")
        assert [c.title for c in answer.citations] == [DICTIONARY]
    finally:
        assistant.close()


def test_a_model_file_of_ones_own_can_stand_in_for_the_shipped_one(seed_home, tmp_path):
    from rag import Assistant, RagError, Settings

    data = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    (tmp_path / "strict.json").write_text(json.dumps({**data, "threshold": 0.999999}))
    assistant = Assistant(Settings(home=seed_home, answer={"decider_model": str(tmp_path / "strict.json")}, llm={"base_url": "", "api_key": ""}))
    try:
        assert assistant.extractive.model.threshold == 0.999999
        assert assistant.ask("What convergence rate does the online dictionary learner get?").refused  # nothing is that sure
    finally:
        assistant.close()
    with pytest.raises(RagError, match=r"Can't load the answerer's model .*missing.json \(RAG_ANSWER_DECIDER_MODEL\)"):
        Assistant(Settings(home=seed_home, answer={"decider_model": str(tmp_path / "missing.json")}, llm={"base_url": "", "api_key": ""}))


# --- the model file ---------------------------------------------------------------------------------------


def test_the_shipped_model_says_how_it_was_made_and_uses_only_known_features():
    data = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    card = data["made_by"]
    assert card["command"].startswith("python -m training.answerer") and card["commit"] and card["date"]
    assert set(data["features"]) <= set(FEATURES) and data["trees"]
    assert 0 < data["threshold"] < 1
    held_out = {name.split("_")[0] for name in HELD_OUT}  # scale2, scale3, heldout4, heldout5, heldout6, heldout7
    assert not held_out & set(re.findall(r"[a-z]+\d", json.dumps(card)))  # no held-out set is named in its data


def test_the_exported_trees_predict_what_scikit_learn_predicts():
    from sklearn.ensemble import HistGradientBoostingClassifier

    from rag.answer.answerability import export_trees

    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, len(FEATURES)))
    X[::7, 3] = np.nan  # missing values take the side the tree learned for them
    y = (X[:, 0] + 0.5 * np.nan_to_num(X[:, 3]) > 0).astype(int)
    fitted = HistGradientBoostingClassifier(max_iter=20, max_leaf_nodes=7, random_state=0).fit(X, y)
    baseline, trees = export_trees(fitted)
    model = AnswerModel.load(_write(baseline, trees))
    assert np.allclose(model.probabilities(X), fitted.predict_proba(X)[:, 1], atol=1e-12)


def _write(baseline, trees):
    import tempfile
    from pathlib import Path

    path = Path(tempfile.mkdtemp()) / "model.json"
    path.write_text(json.dumps({"features": list(FEATURES), "baseline": baseline, "trees": trees, "threshold": 0.5, "second_within": 0.1}))
    return path


@pytest.mark.parametrize("gap, cited", [(0.05, 2), (0.5, 1)])
def test_two_close_papers_are_both_cited_a_clear_winner_alone(gap, cited):
    model = AnswerModel(FEATURES, 0.0, (), threshold=0.3, second_within=0.1)
    assert len(model.decide(np.array([0.9, 0.9 - gap, 0.1]), multi=False)) == cited
    assert model.decide(np.array([0.2, 0.1]), multi=False) == []  # nothing passes: refused
    assert model.decide(np.array([0.8, 0.5, 0.4, 0.1]), multi=True) == [0, 1, 2]  # a list question: all that pass


def test_a_list_questions_further_papers_have_a_threshold_of_their_own():
    model = AnswerModel(FEATURES, 0.0, (), threshold=0.5, second_within=0.0, list_threshold=0.2)
    assert model.decide(np.array([0.25, 0.6, 0.3, 0.1]), multi=True) == [1, 2, 0]  # the best passes 0.5, the rest 0.2
    assert model.decide(np.array([0.45, 0.3]), multi=True) == []  # whether to answer at all is still the 0.5 bar
    assert model.decide(np.array([0.6, 0.3]), multi=False) == [0]  # a question that isn't a list: unchanged
    same = AnswerModel(FEATURES, 0.0, (), threshold=0.5, second_within=0.0)  # a card without one: the same bar
    assert same.decide(np.array([0.6, 0.3, 0.55]), multi=True) == [0, 2]
