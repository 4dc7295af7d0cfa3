"""What broke the 115k index, and whether it happens again.

| module | shows |
|---|---|
| `hnsw_files` | a data folder's HNSW files read without Chroma: what is whole, what is torn |
| `torn_flush` | Chroma 1.5 opening a half-saved HNSW segment and writing it out to its size limit |
| `kill_resume` | a real `rag ingest` killed at random moments and resumed: does every folder still open? |
"""
