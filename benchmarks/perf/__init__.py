"""How fast.

| module | measures |
|---|---|
| `core` | the bundled corpus: cold and warm index time, re-ingest, `retrieve` and `ask` latency |
| `scale` | ingest throughput against a bare encode, re-ingest and update cost, latency and seed recall at scale; LlamaIndex beside (or `--home` on a built index) |
| `retrieve_parts` | where a hybrid retrieve's time goes on a built index |
| `open_check` | what the damaged-index check costs when opening an index |
| `answerer_trees` | what the learned answerer's trees cost per question, all at once and one at a time |
| `llm_overhead` | what our code adds around an LLM endpoint (a fake one on 127.0.0.1) |
| `load` | concurrent chat sessions against the web UI: latency, throughput, no cross-session leaks |
| `sync` | `rag sync` against the tests' local feed server: a month of hf-daily, a week of one arXiv category; fetching and indexing apart |
| `ingest_full.sh` | the whole 115k arXiv file into a data folder, timed (hours; resumable) |
"""
