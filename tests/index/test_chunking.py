"""Sentence splitting and chunks: exact spans, whole sentences, always under MiniLM's 256 word pieces."""

from __future__ import annotations

import pytest

from rag.index.chunking import chunk_paper, embedding_text, paper_of_chunk

from rag.text.sentences import split_sentences
from rag.corpus import read_corpus
from rag.index.embedding import MAX_WORD_PIECES, WordPieceCounter
from rag.types import Paper

from tests.fixtures.files import BUNDLED


@pytest.fixture(scope="module")
def count_tokens():
    return WordPieceCounter()


def test_abbreviations_and_citations_do_not_end_sentences():
    text = (
        "We build on the method of Diakonikolas et al. (2023). Results hold for many models, e.g. ResNets "
        "and ViTs, i.e. most vision backbones. See Fig. 3 for details.The rate is 0.5 in expectation."
    )
    sentences = [s.text for s in split_sentences(text)]
    assert sentences == [
        "We build on the method of Diakonikolas et al. (2023).",
        "Results hold for many models, e.g. ResNets and ViTs, i.e. most vision backbones.",
        "See Fig. 3 for details.",
        "The rate is 0.5 in expectation.",
    ]


def test_spans_point_at_the_exact_text():
    papers = [p for p in read_corpus(BUNDLED)]
    for paper in papers:
        for sentence in split_sentences(paper.abstract):
            assert paper.abstract[sentence.start : sentence.end] == sentence.text


@pytest.mark.parametrize(("max_tokens", "overlap", "max_sentences"), [(128, 0, 1), (128, 1, 0), (254, 0, 0)])
def test_every_chunk_fits_the_model_with_its_title(count_tokens, max_tokens, overlap, max_sentences):
    for paper in read_corpus(BUNDLED):
        chunks = chunk_paper(paper, count_tokens, max_tokens, overlap, max_sentences)
        assert chunks, paper.title
        for chunk in chunks:
            assert paper.abstract[chunk.start : chunk.end] == chunk.text
            # +2 for [CLS] and [SEP]: what the model really reads must fit.
            assert count_tokens([embedding_text(paper.title, chunk.text)])[0] + 2 <= min(max_tokens, MAX_WORD_PIECES)
        # Nothing of the abstract is left out.
        covered = set()
        for chunk in chunks:
            covered.update(range(chunk.start, chunk.end))
        letters = {i for i, ch in enumerate(paper.abstract) if not ch.isspace()}
        assert letters <= covered


def test_one_sentence_chunks_are_whole_sentences(count_tokens):
    paper = next(iter(read_corpus(BUNDLED)))
    chunks = chunk_paper(paper, count_tokens, 128, 0, 1)
    assert [c.text for c in chunks] == [s.text for s in split_sentences(paper.abstract)]
    assert [c.chunk_id for c in chunks] == [f"{paper.paper_id}::{i}" for i in range(len(chunks))]


def test_a_chunk_id_names_its_paper_even_when_the_paper_id_holds_the_separator():
    paper = Paper(paper_id="doi::10.1/x::y", title="T", abstract="One sentence here. Another one there.")
    chunks = chunk_paper(paper, lambda texts: [len(t.split()) for t in texts], 128, 0, 1)
    assert len(chunks) == 2 and {paper_of_chunk(c.chunk_id) for c in chunks} == {"doi::10.1/x::y"}


def test_a_sentence_too_long_for_the_model_is_cut_not_dropped(count_tokens):
    words = " ".join(f"word{i}" for i in range(600))
    paper = Paper(paper_id="p", title="A title", abstract=f"Short start. {words} end. Short end.")
    chunks = chunk_paper(paper, count_tokens, 128, 0, 1)
    assert len(chunks) > 3
    assert all(count_tokens([embedding_text(paper.title, c.text)])[0] + 2 <= 128 for c in chunks)
    joined = " ".join(c.text for c in chunks)
    assert "word0 " in joined and "word599 end." in joined
