"""How much memory.

| module | measures |
|---|---|
| `chroma_memory` | embedded Chroma's resident size per record upserted (no model) |
| `ingest_memory` | an ingest's resident size batch by batch: heap, anonymous maps, files; `--trim`, `--server` |
| `watch_rss.sh` | a running `rag ingest`'s resident size, a line a minute (beside perf/ingest_full.sh) |
"""
