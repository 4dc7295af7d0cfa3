"""The token match (rag/answer/token_match.py): how much of a question a paper's word pieces answer to."""

from __future__ import annotations

import math

import numpy as np

from rag.answer.answerability import FEATURES, AnswerModel, RuleModel, Tree
from rag.answer.token_match import TOKEN_PAPERS, TokenMatcher, coverage
from rag.index.embedding import HashingEmbedder, MiniLMEmbedder

PAPER = ("p1", "Online orthogonal dictionary learning", ["The learner converges at a sublinear rate.", "It streams data."])


LEAF = Tree.from_json({"feature": [0], "threshold": [0.0], "left": [0], "right": [0], "value": [0.0], "leaf": [1], "missing_left": [0]})


class CountingEmbedder(HashingEmbedder):
    """Equal words match exactly (cosine 1), others hardly; counts the texts it reads."""

    def __init__(self) -> None:
        self.read: list[str] = []

    def token_vectors(self, texts):
        self.read.extend(texts)
        return super().token_vectors(texts)


def test_a_question_the_paper_has_every_word_of_is_covered_more_than_one_asking_for_what_it_lacks():
    embedder = HashingEmbedder()
    paper = embedder.token_vectors([PAPER[1], *PAPER[2]])
    covered_low, covered_mean = coverage(embedder.token_vectors(["dictionary learner converges at rate"])[0], paper)
    lacking_low, lacking_mean = coverage(embedder.token_vectors(["dictionary learner gpu hours"])[0], paper)
    assert covered_low == covered_mean == 1.0
    assert lacking_low < 0.5 <= lacking_mean < 1.0  # the paper's words match, the asked-for detail doesn't


def test_punctuation_alone_is_not_a_question_and_a_paper_without_text_covers_nothing():
    embedder = MiniLMEmbedder()
    paper = embedder.token_vectors([PAPER[1]])
    assert all(math.isnan(v) for v in coverage(embedder.token_vectors(["?!"])[0], paper))
    assert all(math.isnan(v) for v in coverage(embedder.token_vectors(["dictionary learning"])[0], []))


def test_minilm_word_pieces_of_a_near_miss_match_the_paper_worse_than_those_of_a_paraphrase():
    embedder = MiniLMEmbedder()
    paper = embedder.token_vectors([PAPER[1], *PAPER[2]])
    paraphrase = coverage(embedder.token_vectors(["How quickly does the streaming orthogonal dictionary learner converge?"])[0], paper)
    near_miss = coverage(embedder.token_vectors(["Which GPU and how many hours did the orthogonal dictionary learner need?"])[0], paper)
    assert paraphrase[0] > near_miss[0]


def test_only_the_first_papers_are_measured_and_a_paper_is_read_once():
    embedder = CountingEmbedder()
    matcher = TokenMatcher(embedder)
    papers = [(f"p{i}", f"title {i}", [f"sentence {i}"]) for i in range(TOKEN_PAPERS + 2)]
    rows = matcher.measure("title sentence", papers)
    assert rows.shape == (len(papers), 2)
    assert not np.isnan(rows[:TOKEN_PAPERS]).any() and np.isnan(rows[TOKEN_PAPERS:]).all()
    read = len(embedder.read)
    assert np.array_equal(matcher.measure("title sentence", papers), rows, equal_nan=True)
    assert len(embedder.read) == read + 1  # the question again; the papers came from the cache
    edited = [(pid, title, [*texts, "a sentence added"]) for pid, title, texts in papers]
    matcher.measure("title sentence", edited)
    assert "a sentence added" in embedder.read  # a paper whose text changed is read again
    assert np.isnan(matcher.measure("   ", papers)).all()


def test_the_answerer_measures_tokens_only_for_a_model_that_reads_them(seed_assistant, monkeypatch):
    extractive = seed_assistant.extractive
    calls = []
    monkeypatch.setattr(extractive.tokens, "measure", lambda question, papers: calls.append(question) or np.zeros((len(papers), 2)))
    question = seed_assistant.question("How fast does online orthogonal dictionary learning converge?")
    for model, every, measured in ((RuleModel(), False, 0), (RuleModel(), True, 1),
                                   (AnswerModel(("fused", "tok_low"), 0.0, (LEAF,), 0.5, 0.0), False, 1)):
        monkeypatch.setattr(extractive, "model", model)
        calls.clear()
        _, rows, _ = extractive.judge(question, every_feature=every)
        assert len(calls) == measured
        column = rows[:, FEATURES.index("tok_low")]
        assert (column == 0).all() if measured else np.isnan(column).all()
