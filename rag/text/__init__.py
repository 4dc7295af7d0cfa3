"""The text layer: pure functions over strings, used by every layer above. Nothing here imports the rest
of the package, touches a store or loads a model.

| module | what |
|---|---|
| `clean` | corpus text normalised for display and indexing (TeX, control characters, lone surrogates) |
| `tokens` | words, stop words and stemmed BM25 terms; how specific an English word is |
| `sentences` | sentence splitting with exact character spans |
| `markers` | the citation-marker grammar: `[1]`, `[1, 3]`, `[1-3]`, `[Source 2]` |
| `figures` | what counts as a figure (a number, a number word, an asymptotic rate) |
| `question` | what a question asks: its terms, names, whether it wants a figure, one paper or several |
| `instructions` | instructions addressed to the assistant, in a question or planted in an abstract |
| `arxiv` | arXiv ids in ids and URLs (version dropped) |
| `export` | Markdown and BibTeX for answers and their references (escaped: corpus text is untrusted) |
"""
