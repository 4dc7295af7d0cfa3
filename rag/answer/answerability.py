"""Which retrieved papers answer a question, decided by a small learned model instead of hand thresholds.

For each of the retrieved papers (`Question.hits`, best first) the answerer measures how it meets the
question (`rag.answer.evidence`) and turns that into `FEATURES`: retrieval scores of each view and the
margins to the other papers, how close and how complete its best sentences are, what the question asks
that the paper lacks, what the question is like. Gradient-boosted trees over those features give each
paper the probability that it answers; the answer cites the papers above a threshold (the best one, and
a second when it is nearly as likely: citing two close papers beats citing the wrong one alone), a list
question cites its best paper if it passes and every other paper above a list threshold of its own, and a
question no paper passes is refused. The list threshold is separate because the two decisions differ:
whether to answer at all trades a wrong answer against a refusal, while each further paper of a list only
trades one citation's precision against the list's recall, and an F1 is best served by a lower bar there.

The trees and thresholds ship in ``models/answerer.json`` (plain numbers, evaluated here with numpy: no
pickled objects), with how they were made: which data, which command (`python -m training.answerer`),
which commit. They were fitted on tuning data only (our dev and reported question sets, SciFact and
PubMedQA training questions, synthetic questions from hf-daily papers); the held-out sets never chose
anything (BENCHMARKS.md, "Answers in the user's own words"). Trees rather than a logistic regression: in
exploratory runs (scripts not kept, so no figure is claimed) a linear model could not separate the
unanswerable questions that name a real paper and ask for a detail it doesn't state.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from rag.answer.evidence import (
    EvidenceReader,
    PaperEvidence,
    figure_asked_for,
    missing_names,
    missing_specificity,
    missing_words,
    rule_refusal,
)
from rag.text.question import QuestionProfile

MODEL_PATH = Path(__file__).resolve().parent / "models" / "answerer.json"

FEATURES = (
    "fused",  # the fused retrieval score (0-1 over the candidates)
    "dense",  # cosine of the best chunk (sentence + title)
    "lex_rel",  # BM25 score relative to the best BM25 score among the hits
    "abs",  # cosine with the paper's own vector (title + abstract)
    "inv_rank",  # 1 / (1 + retrieval rank)
    "margin_top",  # fused score minus the best fused score (0 for the first)
    "margin_next",  # fused score minus the best other paper's
    "abs_margin",  # abstract cosine minus the best other paper's
    "best_sim",  # cosine of the paper's most similar sentence
    "best_cov",  # share of the question's words (IDF-weighted) in its best sentence
    "paper_cov",  # ... anywhere in the paper
    "best_score",  # best sentence: similarity + half its coverage
    "chosen_sim",  # best similarity among the sentences the answer would quote
    "missing_spec",  # how specific the question words the paper never uses are, together
    "missing_frac",  # share of the question's words the paper never uses
    "names_missing",  # names in the question (ImageNet-1K, BLEU) the paper lacks
    "wants_fig",  # the question asks for a figure
    "fig_ok",  # ... and a quoted sentence has one
    "counted_ok",  # ... of the thing counted
    "multi",  # the question asks for every paper that fits
    "identify",  # the question asks which paper
    "nterms",  # content words in the question
    "prior",  # the paper the previous answer cited (a follow-up)
    "followup",  # the question is a follow-up
    "rule_ok",  # the old hand rule would have answered from this paper
    "tok_low",  # the question's word pieces' best matches in the paper, the weakest quarter's mean (first 3 papers)
    "tok_mean",  # ... all of them (rag/answer/token_match.py)
)


def candidate_features(
    profile: QuestionProfile, evidence: list[PaperEvidence], abstract_scores: np.ndarray, prior: set[str],
    followup: bool, sentences: int, token_cover: np.ndarray | None = None,
) -> np.ndarray:
    """One row of `FEATURES` per paper of ``evidence`` (in retrieval order); ``token_cover`` holds the
    papers' `rag.answer.token_match` rows (missing when not measured)."""
    n = len(evidence)
    if not n:
        return np.zeros((0, len(FEATURES)))
    fused = np.array([e.hit.score for e in evidence])
    lexical = np.array([e.hit.lexical_score for e in evidence])
    lex_rel = lexical / lexical.max() if lexical.max() > 0 else lexical
    rows = []
    for i, ev in enumerate(evidence):
        chosen = EvidenceReader.choose_sentences(profile, ev, sentences)
        known = followup and ev.hit.paper_id in prior
        missing = missing_words(profile, ev)
        has_fig, counted = figure_asked_for(profile, chosen)
        best = max(ev.sentences, key=lambda s: s.score) if ev.sentences else None
        others, others_abs = np.delete(fused, i), np.delete(abstract_scores, i)
        rows.append([
            fused[i], ev.hit.dense_score, lex_rel[i], abstract_scores[i], 1 / (1 + i),
            fused[i] - fused.max(), fused[i] - (others.max() if len(others) else 0.0),
            abstract_scores[i] - (others_abs.max() if len(others_abs) else 0.0),
            best.similarity if best else 0.0, best.coverage if best else 0.0, ev.coverage, ev.best,
            max((s.similarity for s in chosen), default=0.0),
            missing_specificity(missing), len(missing) / max(1, len(profile.surface)),
            len(missing_names(profile, ev)), float(profile.wants_figure), float(has_fig), float(counted),
            float(profile.multi), float(profile.identify), len(profile.terms), float(known), float(followup),
            float(not rule_refusal(profile, ev, chosen, known_paper=known)),
            *(token_cover[i] if token_cover is not None else (np.nan, np.nan)),
        ])
    return np.asarray(rows, dtype=np.float64)


@dataclass(frozen=True)
class Tree:
    """One regression tree: node arrays, children by index, a node is a leaf where ``leaf`` is set."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    leaf: np.ndarray
    missing_left: np.ndarray

    @classmethod
    def from_json(cls, data: dict) -> "Tree":
        return cls(
            np.asarray(data["feature"], dtype=np.int64), np.asarray(data["threshold"], dtype=np.float64),
            np.asarray(data["left"], dtype=np.int64), np.asarray(data["right"], dtype=np.int64),
            np.asarray(data["value"], dtype=np.float64), np.asarray(data["leaf"], dtype=bool),
            np.asarray(data["missing_left"], dtype=bool),
        )


@dataclass(frozen=True)
class Forest:
    """All trees walked at once: their nodes laid end to end in one `Tree` (children as indices into the
    whole), and a (trees x rows) array of current nodes moved down one level per numpy step. One tree at a
    time cost ~7 ms per question for 200 trees (Python overhead per tree and level), on every question asked."""

    roots: np.ndarray
    nodes: Tree

    @classmethod
    def of(cls, trees: tuple[Tree, ...]) -> "Forest":
        sizes = [len(t.value) for t in trees]
        roots = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        shift = np.repeat(roots, sizes)
        joined = {name: np.concatenate([getattr(t, name) for t in trees]) for name in Tree.__dataclass_fields__}
        joined["left"], joined["right"] = joined["left"] + shift, joined["right"] + shift
        return cls(roots, Tree(**joined))

    def sum(self, rows: np.ndarray) -> np.ndarray:
        """Each row's sum of the trees' values."""
        t = self.nodes
        node = np.repeat(self.roots[:, None], len(rows), axis=1)
        row = np.broadcast_to(np.arange(len(rows)), node.shape)
        while True:
            inner = ~t.leaf[node]
            if not inner.any():
                return t.value[node].sum(axis=0)
            at = node[inner]
            values = rows[row[inner], t.feature[at]]
            go_left = np.where(np.isnan(values), t.missing_left[at], values <= t.threshold[at])
            node[inner] = np.where(go_left, t.left[at], t.right[at])


@dataclass(frozen=True)
class AnswerModel:
    """Boosted trees over some of `FEATURES`, and the thresholds that turn them into citations."""

    features: tuple[str, ...]
    baseline: float
    trees: tuple[Tree, ...]
    threshold: float  # a paper answers when its probability is at least this
    second_within: float  # a second paper is cited too when it passes and is this close to the first
    max_papers: int = 8
    list_threshold: float | None = None  # a list question's further papers; None: the same as ``threshold``

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> "AnswerModel":
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        unknown = [f for f in data["features"] if f not in FEATURES]
        if unknown:
            raise ValueError(f"{path}: features {unknown} are not computed by this version of the answerer")
        return cls(
            features=tuple(data["features"]), baseline=float(data["baseline"]),
            trees=tuple(Tree.from_json(t) for t in data["trees"]), threshold=float(data["threshold"]),
            second_within=float(data["second_within"]), max_papers=int(data.get("max_papers", 8)),
            list_threshold=None if data.get("list_threshold") is None else float(data["list_threshold"]),
        )

    @cached_property
    def forest(self) -> Forest:
        return Forest.of(self.trees)

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        if not len(rows):
            return np.zeros(0)
        columns = rows[:, [FEATURES.index(f) for f in self.features]]
        raw = self.baseline + self.forest.sum(columns)
        return 1.0 / (1.0 + np.exp(-raw))

    def decide(self, probabilities: np.ndarray, multi: bool, rows: np.ndarray | None = None) -> list[int]:
        """The indices of the papers to cite, most likely first; [] to refuse."""
        order = [int(i) for i in np.argsort(-probabilities, kind="stable")]
        passing = [i for i in order if probabilities[i] >= self.threshold]
        if not passing:
            return []
        if multi:
            bar = self.threshold if self.list_threshold is None else self.list_threshold
            return [passing[0], *(i for i in order if i != passing[0] and probabilities[i] >= bar)][: self.max_papers]
        best = passing[0]
        cited = [best]
        if len(passing) > 1 and probabilities[best] - probabilities[passing[1]] <= self.second_within:
            cited.append(passing[1])
        return cited


@dataclass(frozen=True)
class RuleModel:
    """The answerer's decision before the learned model, kept as the baseline benchmarks compare against
    (``RAG_ANSWER_DECIDER=rules``): rank by retrieval score plus half the best sentence's score, answer
    from the first paper only if the hand rule passes it (a list question: every paper within 60% of the
    first that passes)."""

    max_papers: int = 8

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        if not len(rows):
            return np.zeros(0)
        column = {name: rows[:, FEATURES.index(name)] for name in ("fused", "best_score", "prior", "rule_ok")}
        return column["fused"] + 0.5 * column["best_score"] + 0.3 * column["prior"]

    def decide(self, ranks: np.ndarray, multi: bool, rows: np.ndarray | None = None) -> list[int]:
        if not len(ranks) or rows is None:
            return []
        ok = rows[:, FEATURES.index("rule_ok")] > 0
        order = [int(i) for i in np.argsort(-ranks, kind="stable")]
        if multi:
            return [i for i in order if ranks[i] >= 0.6 * ranks[order[0]] and ok[i]][: self.max_papers]
        return [order[0]] if ok[order[0]] else []


def export_trees(classifier) -> tuple[float, list[dict]]:
    """A fitted scikit-learn `HistGradientBoostingClassifier` (binary) as (baseline, trees) of plain numbers."""
    trees = []
    for (predictor,) in classifier._predictors:  # one tree per boosting iteration
        nodes = predictor.nodes
        trees.append({
            "feature": nodes["feature_idx"].tolist(), "threshold": nodes["num_threshold"].tolist(),
            "left": nodes["left"].tolist(), "right": nodes["right"].tolist(), "value": nodes["value"].tolist(),
            "leaf": nodes["is_leaf"].astype(int).tolist(), "missing_left": nodes["missing_go_to_left"].astype(int).tolist(),
        })
    return float(np.ravel(classifier._baseline_prediction)[0]), trees


@lru_cache(maxsize=4)
def default_model(path: str = str(MODEL_PATH)) -> AnswerModel:
    return AnswerModel.load(Path(path))
