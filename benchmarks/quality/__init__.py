"""How good.

| module | measures |
|---|---|
| `chunking` | recall@1/3 and MRR per chunking and fusion weight on the dev questions |
| `citation_support` | the citation check's threshold and weight against hand-labelled claims |
| `injection` | instructions planted in questions and abstracts: obeyed, quoted, caught |
| `tune_scifact` | the fusion (and BM25, dense pooling) swept on SciFact's train claims |
| `dense_recall` | the approximate (HNSW) chunk search against an exact one on a built index |
"""
