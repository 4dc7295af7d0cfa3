"""Reading corpus files into `Paper` records.

Formats: the page text of the bundled corpus (a header, then a title line and an abstract line per
paper), JSON Lines, JSON (a list of records, the Hugging Face daily-papers shape included), and CSV with
title and abstract columns. Any of them may be gzip-compressed. Readers stream: a 115k-line file is never
held in memory whole. A record that can't be read becomes a `Skipped` with its ``file:line``; a file in no
known format raises `CorpusFormatError`.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from rag.errors import CorpusFormatError
from rag.types import Paper, Skipped

FORMATS = ("page", "jsonl", "json", "csv")


# --- text ----------------------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\ufeff]")
_SPACE = re.compile(r"\s+")
# Math ($...$, $$...$$, \(...\), \[...\]) is kept exactly as written; the rules below apply to the text
# around it. Measured on 5,000 arXiv abstracts: 55% have hard line breaks, 14% TeX commands.
# Spans are bounded: an unclosed "\(" or "$" repeated through a huge text would otherwise rescan the rest of
# the text from every opener (quadratic; a megabyte of "\(" took minutes).
_MATH = re.compile(r"(?<!\\)\$\$.{1,3000}?(?<!\\)\$\$|(?<!\\)\$.{1,1000}?(?<!\\)\$|\\\(.{1,1000}?\\\)|\\\[.{1,3000}?\\\]", re.DOTALL)
# Text-mode LaTeX that only styles words: \emph{word} -> word, {\em word} -> word, \textcolor{red}{word} -> word.
_LATEX_STYLE = re.compile(
    r"\\(?:emph|textbf|textit|texttt|textsc|textsf|textrm|textup|textsl|textnormal|underline|mbox|hbox)\s*\{([^{}]*)\}"
)
_LATEX_OLD_STYLE = re.compile(r"\{\\(?:em|it|bf|sf|sc|rm|tt|sl|small|large|Large)\b\s*([^{}]*)\}")
_LATEX_COLOR = re.compile(r"\\(?:textcolor|colorbox)\{[^{}]*\}\{([^{}]*)\}")
# Links and notes keep every word: \href{url}{text} -> text (url), \url{u} -> u, \footnote{x} -> (x).
_LATEX_HREF = re.compile(r"\\href\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_LATEX_URL = re.compile(r"\\(?:url|nolinkurl)\s*\{([^{}]*)\}")
_LATEX_FOOTNOTE = re.compile(r"\s*\\footnote\s*\{([^{}]*)\}")
_LATEX_CITE = re.compile(r"\\cite[tp]?\*?\s*\{([^{}]*)\}")
_LATEX_ESCAPE = re.compile(r"\\([%&_#$])")
# TeX accents: Mat\'ern -> Matérn, Schr\"odinger -> Schrödinger, \'{e} -> é.
_LATEX_ACCENT = re.compile(r"\\(['`\"^~])\{?([A-Za-z])\}?")
_COMBINING = {"'": "\u0301", "`": "\u0300", '"': "\u0308", "^": "\u0302", "~": "\u0303"}
# A word hyphenated across a hard line break keeps its hyphen ("model-\nbased" -> "model-based"), but
# "short-\nand long-term" keeps its space.
_HYPHEN_BREAK = re.compile(r"(?<=\w)-[ \t]*\r?\n\s*(?!(?:and|or|nor|to|vs)\b)(?=\w)")


def _clean_prose(text: str) -> str:
    """The TeX of running text (no math inside): styling dropped, links and notes kept as words."""
    for _ in range(3):  # nested styling (\textbf{\emph{x}}) comes off from the inside out
        before = text
        text = _LATEX_STYLE.sub(r"\1", text)
        text = _LATEX_OLD_STYLE.sub(r"\1", text)
        text = _LATEX_COLOR.sub(r"\1", text)
        if text == before:
            break
    text = _LATEX_HREF.sub(lambda m: f"{m.group(2)} ({m.group(1)})" if m.group(2).strip() != m.group(1).strip() else m.group(1), text)
    text = _LATEX_URL.sub(r"\1", text)
    text = _LATEX_FOOTNOTE.sub(r" (\1)", text)
    text = _LATEX_CITE.sub(r"[\1]", text)
    text = text.replace("~", " ").replace("``", '"').replace("''", '"')
    return text.replace(" --- ", " — ").replace(" -- ", " – ")


def clean_text(text: str) -> str:
    """Normalise text for display and indexing without dropping words.

    arXiv abstracts carry hard line breaks, TeX styling commands, links, citations and escaped
    characters; page text can carry control characters. Math ($...$) and unicode (φ^3, Schrödinger) are
    kept as written.
    """
    text = _LATEX_ACCENT.sub(lambda m: m.group(2) + _COMBINING[m.group(1)], text)
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub("", text)
    text = _HYPHEN_BREAK.sub("-", text)
    parts, last = [], 0
    for math in _MATH.finditer(text):
        parts.append(_clean_prose(text[last : math.start()]))
        parts.append(math.group())
        last = math.end()
    parts.append(_clean_prose(text[last:]))
    text = _LATEX_ESCAPE.sub(r"\1", "".join(parts))
    return _SPACE.sub(" ", text).strip()


def normalise_title(title: str) -> str:
    folded = unicodedata.normalize("NFKC", title).casefold()
    return " ".join(re.findall(r"\w+", folded))


# --- ids -----------------------------------------------------------------------------------------------

_ARXIV_NEW = re.compile(r"(?<![\d.])(\d{4}\.\d{4,5})(?:v\d+)?(?![\d])")
_ARXIV_OLD = re.compile(r"\b([a-z][a-z-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?\b")
_ARXIV_URL = re.compile(r"arxiv\.org/(?:abs|pdf)/([^\s?#]+?)(?:v\d+)?(?:\.pdf)?(?:[?#]|$)")


def arxiv_id(value: str) -> str | None:
    """The version-less arXiv id in an id string or an arXiv URL, or None."""
    value = value.strip()
    url = _ARXIV_URL.search(value)
    if url:
        value = url.group(1)
    value = re.sub(r"^arxiv:", "", value, flags=re.IGNORECASE)
    for pattern in (_ARXIV_NEW, _ARXIV_OLD):
        match = pattern.fullmatch(value) or (pattern.match(value) if url else None)
        if match:
            return match.group(1)
    return None


def paper_id_for(title: str, given_id: str = "", url: str = "") -> str:
    """The arXiv id when there is one; else the record's own id; else a stable id from the normalised title."""
    for candidate in (given_id, url):
        if candidate:
            found = arxiv_id(candidate)
            if found:
                return found
    if given_id:
        return given_id.strip()
    digest = hashlib.sha1(normalise_title(title).encode("utf-8")).hexdigest()[:16]
    return f"title-{digest}"


# --- records -------------------------------------------------------------------------------------------

_TITLE_KEYS = ("title", "paper_title", "name")
_ABSTRACT_KEYS = ("abstract", "summary", "text", "paper_abstract", "content")
_ID_KEYS = ("id", "arxiv_id", "paper_id", "_id", "doc_id", "pmid")
_DATE_KEYS = ("listing_date", "publishedAt", "published", "date", "update_date", "submittedOnDailyAt", "year")
_URL_KEYS = ("url", "link", "pdf_url", "abs_url")


def _first(record: dict, keys: Iterable[str]) -> Any:
    for key in keys:
        if key in record and record[key] not in (None, ""):
            return record[key]
    return None


def _as_text(value: Any, field: str) -> str:
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and field in ("id", "date"):
        return str(value)
    if not isinstance(value, str):
        raise ValueError(f"'{field}' should be text, got {type(value).__name__}")
    return value


def _authors(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        parts = re.split(r",|;| and ", value)
        return [clean_text(p) for p in parts if p.strip()]
    if isinstance(value, list):
        names = []
        for item in value:
            if isinstance(item, str):
                names.append(clean_text(item))
            elif isinstance(item, dict) and isinstance(item.get("name"), str):
                names.append(clean_text(item["name"]))
        return [n for n in names if n]
    raise ValueError(f"'authors' should be a list or text, got {type(value).__name__}")


def _categories(value: Any, primary: Any = None) -> list[str]:
    cats: list[str] = []
    if isinstance(value, str):
        cats = [c for c in re.split(r"[\s,;]+", value) if c]
    elif isinstance(value, list):
        cats = [c.strip() for c in value if isinstance(c, str) and c.strip()]
    elif value is not None:
        raise ValueError(f"'categories' should be a list or text, got {type(value).__name__}")
    if isinstance(primary, str) and primary.strip() and primary.strip() not in cats:
        cats.insert(0, primary.strip())
    return cats


def _date(value: Any) -> str:
    text = _as_text(value, "date").strip()
    match = re.match(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?", text)
    if not match:
        return ""
    return "-".join(part for part in match.groups() if part)


def record_to_paper(record: Any) -> Paper:
    """Map one JSON/CSV record to a `Paper`; raises ValueError with a readable reason."""
    if not isinstance(record, dict):
        raise ValueError(f"expected an object, got {type(record).__name__}")
    if isinstance(record.get("paper"), dict):  # Hugging Face daily papers: the paper sits under "paper"
        record = {**{k: v for k, v in record.items() if k != "paper"}, **record["paper"]}
    title = clean_text(_as_text(_first(record, _TITLE_KEYS), "title"))
    abstract = clean_text(_as_text(_first(record, _ABSTRACT_KEYS), "abstract"))
    if not title:
        raise ValueError("no title")
    if not abstract:
        raise ValueError("no abstract")
    given_id = _as_text(_first(record, _ID_KEYS), "id")
    url = _as_text(_first(record, _URL_KEYS), "url").strip()
    paper_id = paper_id_for(title, given_id, url)
    if not url and arxiv_id(paper_id):
        url = f"https://arxiv.org/abs/{paper_id}"
    return Paper(
        paper_id=paper_id,
        title=title,
        abstract=abstract,
        authors=_authors(record.get("authors")),
        date=_date(_first(record, _DATE_KEYS)),
        categories=_categories(record.get("categories"), record.get("primary_category")),
        url=url,
    )


# --- files ---------------------------------------------------------------------------------------------


# Bytes that are not UTF-8 come through as lone surrogates (errors="surrogateescape"), as do JSON
# "\ud800" escapes: either way the record can't be stored (Chroma needs valid UTF-8) and is skipped by line.
_UNDECODABLE = re.compile("[\ud800-\udfff]")


def _invalid_text(paper: Paper) -> str:
    fields = {"title": paper.title, "abstract": paper.abstract, "id": paper.paper_id, "url": paper.url, "date": paper.date,
              "authors": " ".join(paper.authors), "categories": " ".join(paper.categories)}
    bad = [name for name, value in fields.items() if _UNDECODABLE.search(value)]
    return f"invalid UTF-8 (undecodable bytes or a lone surrogate escape) in the {', '.join(bad)}" if bad else ""


def _open_text(path: Path) -> IO[str]:
    raw = path.open("rb")
    head = raw.read(2)
    raw.seek(0)
    stream: IO[bytes] = gzip.GzipFile(fileobj=raw) if head == b"\x1f\x8b" else raw  # type: ignore[assignment]
    # newline="" keeps CSV's quoted line breaks intact; errors are reported by the sniffing step.
    return io.TextIOWrapper(stream, encoding="utf-8", errors="surrogateescape", newline="")


def detect_format(path: Path) -> str:
    """The corpus format of ``path``, from its name, else from its first bytes."""
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    suffix = Path(name).suffix
    by_suffix = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".txt": "page", ".md": "page"}
    try:
        with _open_text(path) as handle:
            head = handle.read(4096)
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as exc:
        raise CorpusFormatError(f"{path}: not a text corpus file ({exc.__class__.__name__}: {exc})") from None
    if "\x00" in head:
        raise CorpusFormatError(f"{path}: binary data, not a corpus file")
    undecodable = len(_UNDECODABLE.findall(head))
    if undecodable > 16 and undecodable > len(head) // 100:  # a stray bad line is skipped; this is another encoding
        raise CorpusFormatError(f"{path}: not UTF-8 text ({undecodable} undecodable bytes in its first 4,096 characters); convert it to UTF-8 first (e.g. iconv -f latin1 -t utf-8)")
    if not head.strip():
        raise CorpusFormatError(f"{path}: the file is empty")
    stripped = head.lstrip()
    if suffix == ".json" and stripped.startswith("{"):
        # A single object on one line each is JSON Lines in disguise; a pretty-printed object is JSON.
        first_line = stripped.split("\n", 1)[0].strip()
        return "jsonl" if first_line.endswith("}") else "json"
    if suffix in by_suffix:
        return by_suffix[suffix]
    if stripped.startswith("["):
        return "json"
    if stripped.startswith("{"):
        return "jsonl"
    first_line = stripped.split("\n", 1)[0].lower()
    if "," in first_line and "title" in first_line and any(k in first_line for k in _ABSTRACT_KEYS):
        return "csv"
    raise CorpusFormatError(
        f"{path}: unknown corpus format; expected page text (.txt), JSON Lines (.jsonl), JSON (.json) "
        "or CSV (.csv) with title and abstract, optionally gzip-compressed (.gz)"
    )


def read_corpus(path: str | Path, max_record_chars: int = 1_000_000) -> Iterator[Paper | Skipped]:
    """Yield the papers of one corpus file, and a `Skipped` for each record that can't be read."""
    for _, item in read_records(path, max_record_chars):
        yield item


def read_records(path: str | Path, max_record_chars: int = 1_000_000) -> Iterator[tuple[str, Paper | Skipped]]:
    """Like `read_corpus`, with each record's ``file:line`` location."""
    path = Path(path)
    if not path.is_file():
        raise CorpusFormatError(f"{path}: no such file")
    fmt = detect_format(path)
    reader = {"page": _read_page, "jsonl": _read_jsonl, "json": _read_json, "csv": _read_csv}[fmt]
    handle = _open_text(path)
    try:
        yield from reader(handle, str(path), max_record_chars)
    except UnicodeDecodeError as exc:
        yield f"{path}", Skipped(location=f"{path}", reason=f"stopped reading: invalid UTF-8 ({exc.reason})")
    finally:
        handle.close()


def count_records(path: str | Path) -> int | None:
    """A cheap estimate of the records in a file, for the progress bar (None when unknown)."""
    path = Path(path)
    try:
        fmt = detect_format(path)
        if fmt not in ("jsonl", "csv"):
            return None
        with _open_text(path) as handle:
            return sum(1 for line in handle if line.strip()) - (1 if fmt == "csv" else 0)
    except (CorpusFormatError, OSError, UnicodeDecodeError):
        return None


def _read_jsonl(handle: IO[str], name: str, max_chars: int) -> Iterator[tuple[str, Paper | Skipped]]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        if len(line) > max_chars:
            yield _skip(where, reason=f"record of {len(line):,} characters is over the {max_chars:,} limit")
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield _skip(where, reason=f"invalid JSON ({exc.msg} at column {exc.colno})")
            continue
        yield where, _paper_or_skip(record, where)


def _read_json(handle: IO[str], name: str, max_chars: int) -> Iterator[tuple[str, Paper | Skipped]]:
    # The daily-papers files are a few MB, so the text is read whole, then records are decoded one at a
    # time so each keeps its line number and a broken record doesn't hide the ones before it.
    text = handle.read()
    decoder = json.JSONDecoder()
    pos = _skip_space(text, 0)
    if text.startswith("{", pos):
        try:
            whole, _ = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            yield _skip(f"{name}:{exc.lineno}", reason=f"invalid JSON ({exc.msg})")
            return
        records = next((v for k, v in whole.items() if k in ("papers", "data", "records") and isinstance(v, list)), None)
        if records is None:
            where = f"{name}:{text.count(chr(10), 0, pos) + 1}"
            yield where, _paper_or_skip(whole, where)
            return
        for index, record in enumerate(records, start=1):
            yield f"{name}:record {index}", _paper_or_skip(record, f"{name}:record {index}")
        return
    if not text.startswith("[", pos):
        yield _skip(f"{name}:1", reason="invalid JSON: expected a list of records")
        return
    pos = _skip_space(text, pos + 1)
    while pos < len(text) and text[pos] != "]":
        line = text.count("\n", 0, pos) + 1
        where = f"{name}:{line}"
        try:
            record, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            yield _skip(where, reason=f"invalid JSON ({exc.msg}); the rest of the file is unreadable")
            return
        if end - pos > max_chars:
            yield _skip(where, reason=f"record of {end - pos:,} characters is over the {max_chars:,} limit")
        else:
            yield where, _paper_or_skip(record, where)
        pos = _skip_space(text, end)
        if pos < len(text) and text[pos] == ",":
            pos = _skip_space(text, pos + 1)
        elif pos < len(text) and text[pos] != "]":
            yield _skip(f"{name}:{text.count(chr(10), 0, pos) + 1}", reason="invalid JSON: expected ',' or ']'")
            return
    if pos >= len(text):
        yield _skip(f"{name}:{text.count(chr(10)) + 1}", reason="invalid JSON: the list is not closed (truncated file?)")


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _read_csv(handle: IO[str], name: str, max_chars: int) -> Iterator[tuple[str, Paper | Skipped]]:
    csv.field_size_limit(max(max_chars, 131072))
    sample = handle.read(8192)
    handle.seek(0)
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(handle, dialect=dialect)
    columns = {c.strip().lower(): c for c in (reader.fieldnames or []) if c}
    if not any(k in columns for k in _TITLE_KEYS) or not any(k in columns for k in _ABSTRACT_KEYS):
        raise CorpusFormatError(
            f"{name}: CSV needs a title column and an abstract (or summary) column; found {sorted(columns)}"
        )
    line = reader.line_num
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield _skip(f"{name}:{reader.line_num}", reason=f"unreadable CSV row ({exc})")
            return
        where = f"{name}:{line + 1}"
        line = reader.line_num
        if None in row:
            yield _skip(where, reason="more fields than the header has")
            continue
        record = {key.strip().lower(): value for key, value in row.items() if key}
        yield where, _paper_or_skip(record, where)


# A page line longer than this is an abstract; a title is shorter. Measured on the bundled page: titles run
# to 160 characters, abstracts start at 400.
_TITLE_MAX = 300
_ABSTRACT_MIN = 200


def _read_page(handle: IO[str], name: str, max_chars: int) -> Iterator[tuple[str, Paper | Skipped]]:
    """Title line + abstract line pairs; the page header before the first pair is not a record."""
    lines = [(n, clean_text(raw)) for n, raw in enumerate(handle, start=1)]
    lines = [(n, text) for n, text in lines if text]
    seen_pair = False
    i = 0
    while i < len(lines):
        number, text = lines[i]
        following = lines[i + 1][1] if i + 1 < len(lines) else ""
        if len(text) <= _TITLE_MAX and len(following) >= _ABSTRACT_MIN:
            title, abstract = text, following
            if len(abstract) > max_chars:
                yield _skip(f"{name}:{number}", reason=f"abstract of {len(abstract):,} characters is over the limit")
            else:
                paper = Paper(paper_id=paper_id_for(title), title=title, abstract=abstract)
                problem = _invalid_text(paper)
                yield f"{name}:{number}", Skipped(location=f"{name}:{number}", reason=problem) if problem else paper
            seen_pair = True
            i += 2
            continue
        if seen_pair:  # header lines come before the first paper; after it, a lone line is an error
            kind = "an abstract without a title" if len(text) >= _ABSTRACT_MIN else "a title without an abstract"
            yield _skip(f"{name}:{number}", reason=f"{kind}")
        i += 1


def _skip(location: str, reason: str) -> tuple[str, Skipped]:
    return location, Skipped(location=location, reason=reason)


def _paper_or_skip(record: Any, where: str) -> Paper | Skipped:
    try:
        paper = record_to_paper(record)
    except (ValueError, TypeError) as exc:
        return Skipped(location=where, reason=str(exc))
    problem = _invalid_text(paper)
    return Skipped(location=where, reason=problem) if problem else paper
