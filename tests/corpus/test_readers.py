"""Reading corpus files: every format, ids, cleaning, and bad input reported by location."""

from __future__ import annotations

import gzip
import json

import pytest

from rag.corpus import arxiv_id, detect_format, paper_id_for, read_corpus, read_records
from rag.corpus import readers
from rag.errors import CorpusFormatError
from rag.text.clean import clean_text
from rag.types import Paper, Skipped

from tests.fixtures.files import ARXIV_SAMPLE, BUNDLED, HF_DAILY_SAMPLE, write


def papers_of(path):
    items = list(read_corpus(path))
    return [p for p in items if isinstance(p, Paper)], [s for s in items if isinstance(s, Skipped)]


def test_bundled_page_has_67_papers_and_no_header_records():
    papers, skipped = papers_of(BUNDLED)
    assert len(papers) == 67
    assert skipped == []
    assert papers[0].title == "Spurious Feature Diversification Improves Out-of-distribution Generalization"
    assert papers[-1].title.startswith("Spectral-Refiner")
    assert all(len(p.abstract) > 200 for p in papers)
    assert not any(p.title in ("new", "Subscribe", "Mar 11") for p in papers)
    assert len({p.paper_id for p in papers}) == 67


def test_unicode_titles_survive():
    titles = {p.title for p in papers_of(BUNDLED)[0]}
    assert "Light Schrödinger Bridge" in titles
    assert "Causality and Renormalization in Finite-Time-Path Out-of-Equilibrium φ^3 QFT" in titles


def test_arxiv_jsonl_shape():
    papers, skipped = papers_of(ARXIV_SAMPLE)
    assert skipped == [] and len(papers) == 5
    first = papers[0]
    assert first.paper_id == "2606.13254"
    assert first.authors == ["Laura Majer", "Jan Šnajder", "Martin Tutek"]
    assert first.categories == ["cs.CL"]
    assert first.date == "2026-06-12"
    assert first.url == "https://arxiv.org/abs/2606.13254"


def test_hugging_face_daily_papers_shape():
    papers, skipped = papers_of(HF_DAILY_SAMPLE)
    assert skipped == [] and len(papers) == 3
    doc = papers[0]
    assert doc.paper_id == "2401.00908"
    # Hard line breaks in the API's title and summary are cleaned away.
    assert doc.title == "DocLLM: A layout-aware generative language model for multimodal document understanding"
    assert "\n" not in doc.abstract and "  " not in doc.abstract
    assert doc.authors[0] == "Dongsheng Wang"
    assert doc.date == "2023-12-31"


def test_gzip_is_read_directly(tmp_path):
    target = tmp_path / "papers.jsonl.gz"
    target.write_bytes(gzip.compress((ARXIV_SAMPLE).read_bytes()))
    papers, _ = papers_of(target)
    assert [p.paper_id for p in papers] == [p.paper_id for p in papers_of(ARXIV_SAMPLE)[0]]


def test_csv_with_title_and_abstract_columns(tmp_path):
    path = write(
        tmp_path / "list.csv",
        'Title,Abstract,Authors,Date\n"A, quoted title","An abstract, with commas, long enough.","Ada Lovelace; Alan Turing",2024-05-01\n'
        "Second,Another abstract,,\n",
    )
    papers, skipped = papers_of(path)
    assert skipped == []
    assert papers[0].title == "A, quoted title" and papers[0].authors == ["Ada Lovelace", "Alan Turing"]
    assert papers[0].date == "2024-05-01"
    assert papers[1].abstract == "Another abstract"


def test_csv_without_needed_columns_is_a_clear_error(tmp_path):
    path = write(tmp_path / "bad.csv", "name,text_body\nx,y\n")
    with pytest.raises(CorpusFormatError, match="title column and an abstract"):
        list(read_corpus(path))


def test_malformed_jsonl_lines_are_skipped_with_file_and_line(tmp_path):
    good = json.dumps({"title": "Good paper", "abstract": "Text of a good paper."})
    path = write(
        tmp_path / "mixed.jsonl",
        "\n".join([good, "{not json", json.dumps({"title": "No abstract"}), json.dumps({"title": 5, "abstract": "x"}), "[1, 2]", good.replace("Good", "Other")]) + "\n",
    )
    records = list(read_records(path))
    skipped = [item for _, item in records if isinstance(item, Skipped)]
    assert [s.location for s in skipped] == [f"{path}:2", f"{path}:3", f"{path}:4", f"{path}:5"]
    assert "invalid JSON" in skipped[0].reason
    assert skipped[1].reason == "no abstract"
    assert "'title' should be text" in skipped[2].reason
    assert "expected an object" in skipped[3].reason
    assert sum(isinstance(item, Paper) for _, item in records) == 2


def test_truncated_json_array_keeps_the_records_before_the_break(tmp_path):
    whole = (HF_DAILY_SAMPLE).read_text(encoding="utf-8")
    path = write(tmp_path / "cut.json", whole[: int(len(whole) * 0.8)])
    papers, skipped = papers_of(path)
    assert len(papers) == 2
    assert len(skipped) == 1 and "invalid JSON" in skipped[0].reason
    assert skipped[0].location.startswith(f"{path}:")


def test_a_json_array_streams_record_by_record_across_read_blocks(tmp_path, monkeypatch):
    """The JSON reader holds a window of the file, not the file: same records and lines with 64-character reads."""
    records = [{"title": f"Paper {i}", "abstract": f"Abstract {i} " + "words " * (i % 7 * 10), "id": f"2401.{10000 + i}"} for i in range(40)]
    records[17] = {"title": "no abstract here"}
    path = write(tmp_path / "papers.json", "[\n" + ",\n".join(json.dumps(r, indent=1) for r in records) + "\n]\n")
    whole = list(read_records(path))
    monkeypatch.setattr(readers._Window, "BLOCK", 64)
    windowed = list(read_records(path))
    assert [(where, type(item).__name__) for where, item in windowed] == [(where, type(item).__name__) for where, item in whole]
    assert sum(isinstance(item, Paper) for _, item in windowed) == 39
    bad = [(where, item) for where, item in windowed if isinstance(item, Skipped)]
    line = path.read_text().splitlines().index("{") + 1  # the first record's line; record 17 is further down
    assert len(bad) == 1 and bad[0][1].reason == "no abstract" and int(bad[0][0].rsplit(":", 1)[1]) > line


def test_a_page_file_is_read_line_by_line():
    """The page reader pairs lines as they come: its first paper is out after a handful of lines."""
    consumed = []

    def lines():
        for line in BUNDLED.read_text(encoding="utf-8").splitlines(keepends=True):
            consumed.append(line)
            yield line

    items = readers._read_page(lines(), "page.txt", 10**6)
    first = next(items)
    assert isinstance(first[1], Paper) and len(consumed) < 20
    assert sum(isinstance(item, Paper) for _, item in items) == 66  # and the rest follow


def test_a_gzip_file_cut_short_keeps_what_was_read_and_says_so(tmp_path):
    lines = [json.dumps({"title": f"T{i}", "abstract": f"An abstract number {i} about things.", "id": f"2402.{10000 + i}"}) for i in range(2000)]
    packed = gzip.compress("\n".join(lines).encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(packed[: len(packed) // 2])
    papers, skipped = papers_of(path)
    assert 0 < len(papers) < 2000
    assert len(skipped) == 1 and "damaged or cut short" in skipped[0].reason


def test_unknown_and_binary_files_are_clear_errors(tmp_path):
    with pytest.raises(CorpusFormatError, match="unknown corpus format"):
        detect_format(write(tmp_path / "notes.dat", "just some words\nand more\n"))
    binary = tmp_path / "image.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(CorpusFormatError, match="not a text corpus file|binary"):
        detect_format(binary)
    with pytest.raises(CorpusFormatError, match="empty"):
        detect_format(write(tmp_path / "empty.jsonl", ""))


def test_page_with_orphan_lines_reports_them(tmp_path):
    abstract = "An abstract that is long enough to count as one. " * 6
    path = write(tmp_path / "page.txt", f"Header\n\nFirst title\n\n{abstract}\n\nA lonely title\n\nSecond title\n\n{abstract}\n")
    papers, skipped = papers_of(path)
    assert [p.title for p in papers] == ["First title", "Second title"]
    assert [s.location for s in skipped] == [f"{path}:7"]
    assert "title without an abstract" in skipped[0].reason


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2401.00908", "2401.00908"),
        ("2401.00908v3", "2401.00908"),
        ("arXiv:2310.12345", "2310.12345"),
        ("https://arxiv.org/abs/2310.12345v2", "2310.12345"),
        ("https://arxiv.org/pdf/2310.12345.pdf", "2310.12345"),
        ("hep-th/9901001", "hep-th/9901001"),
        ("math.GT/0309136v1", "math.GT/0309136"),
        ("4983", None),
        ("not an id", None),
    ],
)
def test_arxiv_ids(value, expected):
    assert arxiv_id(value) == expected


def test_title_ids_are_stable_under_case_and_spacing():
    a = paper_id_for("Light  Schrödinger Bridge")
    assert a == paper_id_for("light schrödinger bridge") == paper_id_for("Light Schrödinger Bridge.")
    assert a.startswith("title-") and a != paper_id_for("Heavy Schrödinger Bridge")
    assert paper_id_for("Anything", given_id="4983") == "4983"
    assert paper_id_for("Anything", given_id="", url="https://arxiv.org/abs/2401.00908") == "2401.00908"


def test_clean_text_keeps_words_and_math():
    raw = "We show a rate of $O(1/\\sqrt{T})$ for\n  the \\emph{online} setting with 5\\% error, Mat\\'ern kernel.\x07"
    assert clean_text(raw) == "We show a rate of $O(1/\\sqrt{T})$ for the online setting with 5% error, Matérn kernel."
