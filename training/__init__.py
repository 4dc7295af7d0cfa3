"""How the small models that ship in rag/ were made. Run from the repository root; never imported by rag/.

| module | makes | command |
|---|---|---|
| `answerer` | `rag/answer/models/answerer.json`: which retrieved papers answer a question | `python -m training.answerer` |
| `sources` | the tuning questions it learns from: our dev and reported sets, SciFact and PubMedQA training questions, synthetic questions from hf-daily papers (never the held-out sets) | |

Each run is seeded, reads only ../shared/data and eval/, builds the indexes it needs under a cache folder
(reused on the next run), and writes the model with a card saying what data, which command and which
commit made it. `make run` never trains.
"""
