"""Corpus files read into `Paper` records.

| module | what |
|---|---|
| `formats` | which format a file is in; opening it as text, gzip or not; limits on what one file may hold |
| `readers` | the page-text, JSON Lines, JSON and CSV readers, streaming, each bad record a `Skipped` |
| `records` | one JSON/CSV record mapped to a `Paper`, whatever its field names |
| `ids` | paper ids: the arXiv id (version dropped), the record's own id, or one from the title |
"""

from rag.corpus.formats import FORMATS, ReadLimits, count_records, detect_format
from rag.corpus.ids import arxiv_id, paper_id_for
from rag.corpus.readers import read_corpus, read_records
from rag.corpus.records import record_to_paper

__all__ = ["FORMATS", "ReadLimits", "arxiv_id", "count_records", "detect_format", "paper_id_for", "read_corpus", "read_records", "record_to_paper"]
