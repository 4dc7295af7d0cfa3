"""Benchmarks, by the question each answers. Run one as a module from the repository root:

    python -m benchmarks.perf.core --repeat 1

| package | question |
|---|---|
| `perf` | how fast: index time, query latency, load, scale, the opening check, the LLM overhead |
| `memory` | how much memory: what the index costs per record, what an ingest holds |
| `quality` | how good: chunking and fusion, the citation check, prompt injection, SciFact tuning, HNSW recall |
| `forensics` | what broke the 115k index: Chroma's files read directly, a torn save reproduced, kills and resumes |

`common` is what they share (paths, percentiles, ports, a Chroma server, `write_results`). Each script
writes its figures to benchmarks/results/<area>/<name>.json with the commit, the machine and the command;
BENCHMARKS.md quotes them. Not installed with the package: a benchmark is a client of `rag`, not part of it.
"""
