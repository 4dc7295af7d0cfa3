"""Markdown and BibTeX of answers: corpus text escaped, BibTeX read back by a real parser with every field as stored.

The pure functions (rag/text/export.py) on hand-made references, then real answers: the hashing assistant over
tests/fixtures/data/export_papers.jsonl (arXiv ids, TeX and accents in titles, one author's three papers of one
year, a paper without an arXiv id) and the real one over the bundled corpus.
"""

from __future__ import annotations

import re

import bibtexparser
import pytest
from pylatexenc import latex2text

from rag import Answer, conversation_to_markdown
from rag.text.export import Reference, bibtex, bibtex_key, markdown_answer, md_escape, tex_escape
from tests.fixtures.files import DATA

EXPORT_PAPERS = DATA / "export_papers.jsonl"
TEX_TITLE = "Light Schrödinger Bridges for $O(\\sqrt{n})$ transport & 50% less_compute"
NO_ARXIV_TITLE = "Kernel methods {revisited}: a_b c^2 \\ <b>bold</b>"  # as ingested: "~" is a TeX space, cleaned away


def decoder():
    """pylatexenc's LaTeX-to-text, taught the four standard text-mode macros it doesn't know."""
    db = latex2text.get_default_latex_context_db()
    db.add_context_category("text-specials", prepend=True, macros=[
        latex2text.MacroTextSpec("textless", "<"), latex2text.MacroTextSpec("textgreater", ">"),
        latex2text.MacroTextSpec("textbar", "|"), latex2text.MacroTextSpec("textasciicircum", "^"),
    ])
    return latex2text.LatexNodes2Text(latex_context=db)


def parse_bibtex(text: str) -> dict[str, dict]:
    """key -> fields (raw, as bibtexparser reads them) plus "ENTRYTYPE"; asserts that every block parsed."""
    library = bibtexparser.parse_string(text)
    assert not library.failed_blocks, [b.error for b in library.failed_blocks]
    assert len(library.entries) == text.count("\n@") + text.startswith("@")
    return {e.key: {"ENTRYTYPE": e.entry_type, **{f.key: f.value for f in e.fields}} for e in library.entries}


def read_back(text: str) -> dict[str, dict]:
    """`parse_bibtex` with the title and author fields decoded from TeX to text."""
    decode = decoder().latex_to_text
    entries = parse_bibtex(text)
    for fields in entries.values():
        for name in ("title", "author"):
            if name in fields:
                fields[name] = decode(fields[name])
    return entries


# --- the pure functions -------------------------------------------------------------------------------------


def test_every_tex_special_character_reads_back_as_written():
    nasty = r"100% of {x}_1 & #2 ~ $\alpha^2$ \cite{y} <b>|</b>"
    escaped = tex_escape(nasty)
    assert not re.search(r"(?<!\\)[%&#_$]", escaped.replace("\\textbackslash{}", "")), escaped
    entries = read_back(bibtex([Reference(1, "p1", nasty, ["Ana Ruiz"], "2024")]))
    assert entries["ruiz2024100"]["title"] == nasty


def test_markdown_shows_corpus_text_as_text_and_keeps_markers_and_lists():
    title = "<img src=x onerror=alert(1)> *Bold* [link](javascript:x) # not a heading"
    ref = Reference(1, "2401.00001", title, ["A B"], "2024-02-01", quote="It gets 87.6% on _all_ tasks.")
    text = markdown_answer("What is *it*?", "It gets 87.6% [1].\n- First: more [1, 2].", [ref], notes=["A <note>"])
    assert not re.search(r"(?<!\\)<img", text) and "\\<img" in text and "\\*Bold\\*" in text and "\\[link\\]" in text
    assert "It gets 87.6% [1]." in text and "- First: more [1, 2]." in text  # markers and list lines kept
    assert "1. **" in text and "A B (2024). <https://arxiv.org/abs/2401.00001>" in text
    assert "   > It gets 87.6% on \\_all\\_ tasks." in text
    assert md_escape("# heading") == "\\# heading" and md_escape("1. item") == "1\\. item"


def test_keys_are_ascii_stable_and_unique():
    same = [
        Reference(2, "2402.00003", "Light transport with diffusion models", ["Jörg Müller"], "2024"),
        Reference(1, "2401.00001", "Light Schrödinger Bridges", ["Jörg Müller", "Ana Ruiz"], "2024"),
        Reference(3, "2401.00002", "Sparse Gaussian processes", ["Müller, Jörg"], "2024"),
    ]
    assert bibtex_key(same[2]) == "muller2024sparse"  # "Last, First" names too
    keys = list(parse_bibtex(bibtex(same)))
    assert keys == ["muller2024lighta", "muller2024lightb", "muller2024sparse"]  # in citation order, lettered by paper id
    assert list(parse_bibtex(bibtex(list(reversed(same))))) == keys  # the same papers, the same keys
    assert list(parse_bibtex(bibtex([same[0]]))) == ["muller2024light"]
    assert bibtex_key(Reference(1, "x", "The 2nd law", [], "")) == "2nd"
    assert bibtex_key(Reference(1, "x", "—", [], "")) == "paper"


# --- real answers -------------------------------------------------------------------------------------------


@pytest.fixture
def export_assistant(new_assistant):
    return new_assistant(corpus=[EXPORT_PAPERS])


def test_bibtex_of_real_answers_reads_back_with_every_field_intact(export_assistant):
    first = export_assistant.ask("Which papers here study optimal transport?")
    kernel = export_assistant.ask("What rate does the KME-OT estimator converge at?")
    sparse = export_assistant.ask("On how many benchmark datasets do sparse Gaussian processes run in linear time?")
    assert {c.title for c in first.citations} >= {TEX_TITLE, "Light transport with diffusion models"}
    assert [c.title for c in kernel.citations] == [NO_ARXIV_TITLE]
    assert [c.paper_id for c in sparse.citations] == ["2401.00002"]

    entries = read_back(first.to_bibtex())
    # Two papers of one first author and year, starting with the same word: one key each, the same every time.
    assert entries["muller2024lighta"]["title"] == TEX_TITLE
    assert entries["muller2024lighta"] == {
        "ENTRYTYPE": "misc", "title": TEX_TITLE, "author": "Jörg Müller and Ana Ruiz", "year": "2024",
        "eprint": "2401.00001", "archivePrefix": "arXiv", "primaryClass": "cs.LG", "url": "https://arxiv.org/abs/2401.00001",
    }
    assert entries["muller2024lightb"]["eprint"] == "2402.00003"
    assert first.to_bibtex() == first.to_bibtex()
    assert list(read_back(sparse.to_bibtex())) == ["muller2024sparse"]  # the same author and year, another word

    (paper,) = read_back(kernel.to_bibtex()).values()
    assert paper == {  # no arXiv id: no eprint, its own link kept verbatim
        "ENTRYTYPE": "misc", "title": NO_ARXIV_TITLE, "author": "Fish and Game Team", "year": "2023",
        "url": "https://example.org/paper?x=1&y=2",
    }
    assert "author = {{Fish and Game Team}}" in kernel.to_bibtex()  # one author, not three


def test_markdown_of_a_real_answer_lists_its_references_with_quotes(export_assistant):
    answer = export_assistant.ask("Which papers here study optimal transport?")
    text = answer.to_markdown()
    assert text.startswith("## Which papers here study optimal transport?\n\n")
    for citation in answer.citations:
        assert f"[{citation.number}]" in text.split("**References**")[0]
        assert f"\n   > {md_escape(citation.text)}" in text
    number = next(c.number for c in answer.citations if c.title == TEX_TITLE)
    assert f"{number}. **{md_escape(TEX_TITLE)}**. Jörg Müller and Ana Ruiz (2024). <https://arxiv.org/abs/2401.00001>" in text
    refused = export_assistant.ask("What is the boiling point of tungsten at the summit of Everest?")
    assert refused.refused and refused.to_bibtex() == "" and "**References**" not in refused.to_markdown()
    both = conversation_to_markdown([answer, refused])
    assert both.startswith("# Conversation\n\n## Which papers") and both.count("\n## ") == 2
    assert answer.to_markdown() in both and refused.to_markdown() in both


def test_exports_of_bundled_answers_with_tex_ampersands_and_accents(seed_assistant):
    questions = {
        "Which papers involve Schrödinger bridges?": "Light Schrödinger Bridge",
        "How many parameters does SSF fine-tune, and how much does it improve over full fine-tuning on VTAB-1k?":
            "Scaling & Shifting Your Features: A New Baseline for Efficient Model Tuning",
        "In the finite-time-path phi^3 QFT paper, which renormalization scheme is used?":
            "Causality and Renormalization in Finite-Time-Path Out-of-Equilibrium φ^3 QFT",
    }
    for question, title in questions.items():
        answer: Answer = seed_assistant.ask(question)
        assert title in [c.title for c in answer.citations], (question, answer.text)
        entries = read_back(answer.to_bibtex())
        assert len(entries) == len(answer.citations)
        by_title = {fields["title"]: fields for fields in entries.values()}
        assert by_title[title]["ENTRYTYPE"] == "misc" and "eprint" not in by_title[title]  # the page has no arXiv ids
        assert all(re.fullmatch(r"[a-z0-9]+", key) for key in entries)
        assert f"**{md_escape(title)}**" in answer.to_markdown()
    assert "\\&" in tex_escape(questions[list(questions)[1]]) and "\\textasciicircum{}" in tex_escape("φ^3")
