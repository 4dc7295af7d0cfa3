"""arXiv abstracts as they come (hard line breaks, TeX commands, links) are cleaned for display and BM25
without losing a word. Every raw text below is copied from a real abstract of the arXiv sample."""

from __future__ import annotations

import json
import re

import pytest

from rag.text.clean import clean_text

from rag.corpus import read_corpus
from rag.text.tokens import tokenize, words

from tests.fixtures.files import write

CASES = [
    # 2509.12132: styling across a line break, hard breaks everywhere.
    (
        "to transfer this capability to vision-language models (VLMs), for training\nvisual reasoning models "
        "(\\textbf{VRMs}). owever, such transfer faces critical\nchallenges: Effective \"slow thinking\" in VRMs "
        "requires \\textbf{visual\nreflection}, the ability to check",
        "to transfer this capability to vision-language models (VLMs), for training visual reasoning models "
        "(VRMs). owever, such transfer faces critical challenges: Effective \"slow thinking\" in VRMs requires "
        "visual reflection, the ability to check",
    ),
    # 2507.23197: old-style {\em ...} groups.
    (
        "we rely on many\nsmall {\\em partial} MILP calls.",
        "we rely on many small partial MILP calls.",
    ),
    # 2509.20251: a link keeps its text and its address.
    (
        "Homepage is at\n\\href{https://jiangxb98.github.io/PhiGensis}{PhiGensis}.",
        "Homepage is at PhiGensis (https://jiangxb98.github.io/PhiGensis).",
    ),
    # 2603.29993: a citation keeps its key; LaTeX dashes become dashes.
    (
        "approval as a training signal~\\cite{farquhar2025mona}. how the method of constructing approval -- "
        "particularly the degree",
        "approval as a training signal [farquhar2025mona]. how the method of constructing approval – "
        "particularly the degree",
    ),
    # 2506.18600: a TeX accent.
    ("The recent critique by Barrie\nand T\\\"ornberg [1]", "The recent critique by Barrie and Törnberg [1]"),
    # 2507.20859: \texttt with an escaped underscore.
    ("We developed\n\\texttt{llm\\_extractinator}, a publicly", "We developed llm_extractinator, a publicly"),
    # 2510.19977: a footnote holding a link, right after math that is kept as written.
    (
        "up to\n$182.6\\%$ improvement on MNIST,\nCIFAR10, and ImageNet datasets.\\footnote{Code is anonymously "
        "available at\n\\href{https://github.com/youbin2014/UCAN/}{https://github.com/youbin2014/UCAN/}}",
        "up to $182.6%$ improvement on MNIST, CIFAR10, and ImageNet datasets. (Code is anonymously available "
        "at https://github.com/youbin2014/UCAN/)",
    ),
    # 2510.18063: \(...\) and $...$ math untouched, {\it ...} around it cleaned.
    (
        "on a desired \\(m\\)-dimensional (i.e., \\(m\\)-D) manifold in the\n$n$-dimensional Euclidean space, "
        "and maintain a {\\it flexible spatial\nordering}. We consider $ m\\geq 2$, and",
        "on a desired \\(m\\)-dimensional (i.e., \\(m\\)-D) manifold in the $n$-dimensional Euclidean space, "
        "and maintain a flexible spatial ordering. We consider $ m\\geq 2$, and",
    ),
    # 2511.08693: math with a TeX command stays as written.
    ("with a scatter of just $\\sim0.05$ dex, smaller", "with a scatter of just $\\sim0.05$ dex, smaller"),
    # A word hyphenated at a line break keeps its hyphen; a suspended hyphen keeps its space.
    ("anomalous. Experi-\nmental evaluation on short-\nand long-horizon", "anomalous. Experi-mental evaluation on short- and long-horizon"),
]


@pytest.mark.parametrize("raw, clean", CASES)
def test_real_arxiv_text_is_cleaned(raw, clean):
    assert clean_text(raw) == clean


def words_of(text: str) -> list[str]:
    return words(text)  # lower-cased, accents folded (Törnberg and T\\"ornberg are the same word)


@pytest.mark.parametrize("raw, clean", CASES)
def test_no_word_is_lost(raw, clean):
    """Every word of the raw text (TeX command names aside) is still in the cleaned text."""
    commands = {"textbf", "em", "it", "href", "cite", "texttt", "footnote", "emph"}
    raw_words = {w for w in words_of(re.sub(r'\\[\'"`^~]', "", raw)) if w not in commands}
    cleaned = set(words_of(clean_text(raw)))
    assert not raw_words - cleaned, (raw_words - cleaned, clean_text(raw))


def test_bm25_terms_come_from_the_words_not_the_markup():
    cleaned = clean_text(CASES[0][0])
    terms = set(tokenize(cleaned))
    assert {"visual", "reflect", "vrms"} <= terms
    assert "textbf" not in terms


def test_an_arxiv_record_is_read_clean(tmp_path):
    record = {
        "id": "2509.20251v2",
        "title": "PhiGenesis: \\emph{4D} Scene\n  Generation",
        "abstract": CASES[2][0] + " Gains of 16.6\\% over\nbaselines.",
    }
    path = write(tmp_path / "one.jsonl", json.dumps(record) + "\n")
    [paper] = list(read_corpus(path))
    assert paper.paper_id == "2509.20251"
    assert paper.title == "PhiGenesis: 4D Scene Generation"
    assert paper.abstract == "Homepage is at PhiGensis (https://jiangxb98.github.io/PhiGensis). Gains of 16.6% over baselines."
