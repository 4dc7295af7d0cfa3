"""Does the token match (rag/answer/token_match.py) tell a question a paper answers from a near miss, beyond
the answerer's model? Measured on a tuning set, before the signal was used:

    python -m benchmarks.quality.token_match --home HF_HOME eval/voicetrain2_questions.jsonl
    python -m benchmarks.quality.token_match --home SEED_HOME eval/heldout3_questions.jsonl --tag heldout3

``--home`` is an index holding the set's papers (for voicetrain2, all hf-daily papers and the 67; for the
sets over the bundled abstracts, the 67). Every question without a history is asked as `Assistant.ask`
would (`Assistant.question`, then the extractive answerer's `judge`); the paper the answerer's model
(``--model``, default the shipped one) finds most likely is the one measured: its probability, and the
token match of the question against its title and sentences (the weakest quarter's mean, the mean).

Prints, answerable against unanswerable: each signal's AUC; on a set of pairs (voicetrain2: ``vt2-para-N``
and ``vt2-un-N`` ask about the same paper, once for a detail it gives, once for one it doesn't) how often
each signal ranks the pair's answerable question first; and the AUC of a logistic regression on the model's
probability alone and with the two token figures beside it, cross-validated in 5 folds (pairs kept
together). Never run on a held-out set: it reads each question's answerability.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from pathlib import Path

import numpy as np

from benchmarks.common import add_results_arguments, write_results
from rag import Assistant, Settings
from rag.answer.answerability import AnswerModel
from rag.answer.token_match import TokenMatcher
from training.sources import HELD_OUT


def measure(assistant: Assistant, questions: list[dict]) -> list[dict]:
    extractive, matcher = assistant.extractive, TokenMatcher(assistant.embedder)
    rows = []
    for q in questions:
        question = assistant.question(q["question"])
        evidence, _, p = extractive.judge(question)
        if not len(evidence):
            continue
        top = evidence[int(np.argmax(p))]
        low, mean = matcher.measure(q["question"], [(top.hit.paper_id, top.hit.title, [s.sentence.text for s in top.sentences])])[0]
        rows.append({"id": q["id"], "answerable": q["answerable"], "p": float(p.max()), "tok_low": low, "tok_mean": mean})
    return rows


def auc(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score))


def cross_validated_auc(X: np.ndarray, y: np.ndarray, groups: np.ndarray) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    predicted = np.zeros(len(y))
    for train, test in GroupKFold(5).split(X, y, groups):
        mu, sd = X[train].mean(0), X[train].std(0) + 1e-9
        fitted = LogisticRegression(max_iter=2000).fit((X[train] - mu) / sd, y[train])
        predicted[test] = fitted.predict_proba((X[test] - mu) / sd)[:, 1]
    return auc(y, predicted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("questions", type=Path)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--model", default="", help="an answerer model file (default: the shipped one)")
    add_results_arguments(parser)
    args = parser.parse_args()
    if args.questions.name in HELD_OUT:
        raise SystemExit(f"{args.questions.name} is held out: it is scored only to report (benchmarks.quality.heldout)")

    settings = Settings(home=args.home, corpus={"auto_index": False}, llm={"base_url": "", "api_key": ""},
                        answer={"decider_model": args.model})
    assistant = Assistant(settings)
    if not isinstance(assistant.extractive.model, AnswerModel):
        raise SystemExit("the answerer's model is the rules; measure against a learned one")
    questions = [json.loads(line) for line in args.questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in measure(assistant, [q for q in questions if not q.get("history")])
            if not math.isnan(r["tok_low"])]
    y = np.array([r["answerable"] for r in rows], dtype=int)
    signals = {name: np.array([r[name] for r in rows]) for name in ("p", "tok_low", "tok_mean")}
    figures: dict = {"questions": len(rows), "answerable": int(y.sum()), "auc": {k: round(auc(y, v), 3) for k, v in signals.items()}}

    pairs: dict[str, dict[str, dict]] = {}
    for r in rows:
        m = re.match(r"vt2-(para|un)-(\d+)$", r["id"])
        if m:
            pairs.setdefault(m.group(2), {})[m.group(1)] = r
    pairs = {k: v for k, v in pairs.items() if len(v) == 2}
    if pairs:
        figures["pairs"] = len(pairs)
        figures["pair_order"] = {k: round(float(np.mean([v["para"][k] > v["un"][k] for v in pairs.values()])), 3) for k in signals}

    groups = np.array([re.sub(r"-(para|un)-", "-", r["id"]) for r in rows])
    logit = np.log(np.clip(signals["p"], 1e-4, 1 - 1e-4) / np.clip(1 - signals["p"], 1e-4, 1))[:, None]
    tokens = np.column_stack([signals["tok_low"], signals["tok_mean"]])
    figures["cv_logistic_auc"] = {
        "model": round(cross_validated_auc(logit, y, groups), 3),
        "model + token match": round(cross_validated_auc(np.hstack([logit, tokens]), y, groups), 3),
        "token match alone": round(cross_validated_auc(tokens, y, groups), 3),
    }
    print(json.dumps(figures, indent=2))
    write_results("token-match", figures, args)


if __name__ == "__main__":
    main()
