"""Offline evaluation: question sets and public benchmarks scored through the public `Assistant` API.

- `questions`: the JSON Lines question format, its loader (malformed lines reported by number) and the
  lenient fact matching.
- `scoring`: per-question scores (each retriever's recall@k and MRR, citations, facts, refusals, injections,
  latency) and their summary overall and per type.
- `report`: report.json, report.md and the PNG plots.
- `beir`: SciFact (BEIR format) nDCG@10 and recall@10/100 for BM25, dense and hybrid.
- `pubmedqa`: PubMedQA yes/no/maybe accuracy and gold-paper citations, with an LLM endpoint.
- `commands`: the `rag eval` subcommands.
"""

from rag.evaluation.questions import EvalQuestion, fact_found, load_questions, normalise_for_match
from rag.evaluation.scoring import KS, RETRIEVERS, evaluate, score_question, summarise

__all__ = [
    "KS",
    "RETRIEVERS",
    "EvalQuestion",
    "evaluate",
    "fact_found",
    "load_questions",
    "normalise_for_match",
    "score_question",
    "summarise",
]
