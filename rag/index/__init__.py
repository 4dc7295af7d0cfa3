"""The index: what is stored and how it is searched. Chroma holds the truth (chunks with their vectors,
papers with their abstracts); a BM25 index beside it is kept in step.

| module | what |
|---|---|
| `embedding` | the bundled all-MiniLM-L6-v2 (offline) and a hashing fake for tests |
| `chunking` | sentence chunks sized in MiniLM word pieces, with their spans |
| `chroma` | the Chroma store, embedded or server: chunk and paper collections, idempotent upserts |
| `lexical` | BM25 over stored term counts, reconciled with Chroma |
| `filters` | retrieval filters translated once per backend |
| `failures` | storage failures as one readable `StoreError` |
| `sentence_vectors` | the stored vector of every sentence of a retrieved abstract |
| `store_check` | an embedded index checked before Chroma loads it |
| `salvage` | chunk vectors read back from a damaged folder's files |
| `corpus_map` | the papers on a 2-D map; category and date facets |
"""
