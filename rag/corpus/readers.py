"""The four readers: page text, JSON Lines, JSON and CSV, each streaming (a 115k-record file is never held
in memory whole), each yielding ``(location, Paper | Skipped)`` so every bad record is reported as
``file:line: reason`` and the rest goes in.

A JSON array is read record by record with the standard library's `json.JSONDecoder.raw_decode` over a
sliding window of the file (`_Window`): streaming JSON libraries (ijson, json-stream) don't say on which
line a record starts, and a report that says ``papers.json:4121: no abstract`` is what lets a user fix
their file.

Limits (`ReadLimits`, an upload's): records are counted as they are read and the read fails with
`CorpusTooLarge` past the limit; unpacked bytes are counted by the stream itself (`open_text`). A record
repeated verbatim costs next to nothing: the outcomes of the records read last are kept by their raw text
(`_Recent`), so an exact repeat is neither parsed nor cleaned again, and comes back as the same `Paper`.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
import zlib
from collections.abc import Callable, Hashable, Iterator
from pathlib import Path
from typing import IO

from rag.corpus.formats import ReadLimits, bounded_lines, detect_format, open_text
from rag.corpus.ids import paper_id_for
from rag.corpus.records import ABSTRACT_KEYS, TITLE_KEYS, invalid_text, paper_or_skip
from rag.errors import CorpusFormatError
from rag.text.clean import clean_text
from rag.types import Paper, Skipped

Record = tuple[str, Paper | Skipped]


def read_corpus(path: str | Path, max_record_chars: int = 1_000_000, limits: ReadLimits | None = None) -> Iterator[Paper | Skipped]:
    """Yield the papers of one corpus file, and a `Skipped` for each record that can't be read."""
    for _, item in read_records(path, max_record_chars, limits=limits):
        yield item


def read_records(
    path: str | Path, max_record_chars: int = 1_000_000, fmt: str | None = None, limits: ReadLimits | None = None
) -> Iterator[Record]:
    """Like `read_corpus`, with each record's ``file:line`` location. ``fmt``: the format if already known.

    Raises `CorpusTooLarge` as soon as the file passes one of ``limits`` (what was yielded before stays yielded).
    """
    path = Path(path)
    if not path.is_file():
        raise CorpusFormatError(f"{path}: no such file")
    fmt = fmt or detect_format(path)
    limits = limits or ReadLimits()
    reader = {"page": _read_page, "jsonl": _read_jsonl, "json": _read_json, "csv": _read_csv}[fmt]
    handle = open_text(path, limits.max_bytes)
    records = 0
    try:
        for record in reader(handle, str(path), max_record_chars, _Recent()):
            records += 1
            if limits.max_records is not None and records > limits.max_records:
                raise limits.too_many_records(path)
            yield record
    except UnicodeDecodeError as exc:
        yield _skip(f"{path}", f"stopped reading: invalid UTF-8 ({exc.reason})")
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        # What was read before the damage went in; the rest of a cut .gz can't be read.
        yield _skip(f"{path}", f"stopped reading: the compressed file is damaged or cut short ({exc.__class__.__name__})")
    finally:
        handle.close()


def _skip(location: str, reason: str) -> Record:
    return location, Skipped(location=location, reason=reason)


class _Recent:
    """The outcomes of the records read last, by their raw text: a record repeated verbatim gets the outcome
    of its first reading without being parsed, cleaned and checked again (the same `Paper` object, or a
    `Skipped` for the same reason at its own place). Bounded: only records under `MAX_CHARS`, and at most
    `MAX_ENTRIES` of them, forgotten all at once when full."""

    MAX_ENTRIES = 256
    MAX_CHARS = 16_384

    def __init__(self) -> None:
        self._seen: dict[Hashable, Paper | str] = {}

    def outcome(self, raw: Hashable, size: int, where: str, read: Callable[[], Paper | Skipped]) -> Paper | Skipped:
        known = self._seen.get(raw) if size <= self.MAX_CHARS else None
        if known is not None:
            return known if isinstance(known, Paper) else Skipped(location=where, reason=known)
        item = read()
        if size <= self.MAX_CHARS:
            if len(self._seen) >= self.MAX_ENTRIES:
                self._seen.clear()
            self._seen[raw] = item if isinstance(item, Paper) else item.reason
        return item


def _jsonl_record(line: str, where: str) -> Paper | Skipped:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return Skipped(location=where, reason=f"invalid JSON ({exc.msg} at column {exc.colno})")
    return paper_or_skip(record, where)


def _read_jsonl(handle: IO[str], name: str, max_chars: int, recent: _Recent) -> Iterator[Record]:
    for number, line, length in bounded_lines(handle, max_chars):
        if line is not None and not line.strip():
            continue
        where = f"{name}:{number}"
        if line is None or length > max_chars:
            yield _skip(where, f"record of {length:,} characters is over the {max_chars:,} limit")
            continue
        yield where, recent.outcome(line, length, where, lambda: _jsonl_record(line, where))


class _Window:
    """A window on a text stream: what was read and not yet consumed, and the line where it starts."""

    BLOCK = 1 << 20

    def __init__(self, handle: IO[str]) -> None:
        self.handle = handle
        self.text = ""
        self.pos = 0
        self.line = 1  # the line number at ``pos``
        self.eof = False

    def more(self) -> bool:
        """Read the next block (dropping what was consumed); False at the end of the file."""
        if self.eof:
            return False
        block = self.handle.read(self.BLOCK)
        if not block:
            self.eof = True
            return False
        self.text = self.text[self.pos :] + block
        self.pos = 0
        return True

    def advance(self, to: int) -> None:
        self.line += self.text.count("\n", self.pos, to)
        self.pos = to

    def peek(self) -> str:
        """The next character that is not white space ("" at the end), without consuming it."""
        while True:
            end = len(self.text)
            pos = self.pos
            while pos < end and self.text[pos] in " \t\r\n":
                pos += 1
            self.advance(pos)
            if pos < end or not self.more():
                return self.text[self.pos] if self.pos < len(self.text) else ""

    def decode(self, decoder: json.JSONDecoder, limit: int) -> tuple[object, int]:
        """The JSON value at the window's position and its length; reads on while it is incomplete.

        Raises `json.JSONDecodeError` when it can't be decoded within ``limit`` characters or the file.
        """
        while True:
            try:
                value, end = decoder.raw_decode(self.text, self.pos)
            except json.JSONDecodeError:
                if len(self.text) - self.pos > limit or not self.more():
                    raise
                continue
            length = end - self.pos
            self.advance(end)
            return value, length


def _read_json(handle: IO[str], name: str, max_chars: int, recent: _Recent) -> Iterator[Record]:
    window = _Window(handle)
    decoder = json.JSONDecoder()
    first = window.peek()
    if first == "{":
        window.more()  # enough of the head to see whether the records sit under a key
        head = window.text[window.pos : window.pos + 4096]
        opener = re.match(r'\{\s*"(?:papers|data|records)"\s*:\s*(?=\[)', head)
        if opener:
            window.advance(window.pos + opener.end())
            yield from _read_array(window, decoder, name, max_chars, recent)
            return
        # Any other object is one record, or a wrapper with its list under a later key: read whole.
        where = f"{name}:{window.line}"
        try:
            whole, _ = window.decode(decoder, max(max_chars, 1 << 30))
        except json.JSONDecodeError as exc:
            yield _skip(f"{name}:{exc.lineno + window.line - 1}", f"invalid JSON ({exc.msg})")
            return
        records = next((v for k, v in whole.items() if k in ("papers", "data", "records") and isinstance(v, list)), None)
        if records is None:
            yield where, paper_or_skip(whole, where)
            return
        for index, record in enumerate(records, start=1):
            yield f"{name}:record {index}", paper_or_skip(record, f"{name}:record {index}")
        return
    if first != "[":
        yield _skip(f"{name}:1", "invalid JSON: expected a list of records")
        return
    yield from _read_array(window, decoder, name, max_chars, recent)


def _read_array(window: _Window, decoder: json.JSONDecoder, name: str, max_chars: int, recent: _Recent) -> Iterator[Record]:
    """The records of the JSON array at the window's position, one at a time."""
    window.advance(window.pos + 1)  # the "["
    index = 0
    while window.peek() not in ("]", ""):
        index += 1
        where = f"{name}:{window.line}"
        try:
            record, length = window.decode(decoder, max_chars)
        except json.JSONDecodeError as exc:
            yield _skip(where, f"invalid JSON ({exc.msg}); the rest of the file is unreadable")
            return
        if length > max_chars:
            yield _skip(where, f"record of {length:,} characters is over the {max_chars:,} limit")
        else:
            raw = window.text[window.pos - length : window.pos]
            yield where, recent.outcome(raw, length, where, lambda: paper_or_skip(record, where))
        following = window.peek()
        if following == ",":
            window.advance(window.pos + 1)
        elif following not in ("]", ""):
            yield _skip(f"{name}:{window.line}", "invalid JSON: expected ',' or ']'")
            return
    if window.peek() == "":
        yield _skip(f"{name}:{window.line}", "invalid JSON: the list is not closed (truncated file?)")


def _read_csv(handle: IO[str], name: str, max_chars: int, recent: _Recent) -> Iterator[Record]:
    csv.field_size_limit(max(max_chars, 131072))
    sample = handle.read(8192)
    handle.seek(0)
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(handle, dialect=dialect)
    columns = {c.strip().lower(): c for c in (reader.fieldnames or []) if c}
    if not any(k in columns for k in TITLE_KEYS) or not any(k in columns for k in ABSTRACT_KEYS):
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
            yield _skip(f"{name}:{reader.line_num}", f"unreadable CSV row ({exc})")
            return
        where = f"{name}:{line + 1}"
        line = reader.line_num
        if None in row:
            yield _skip(where, "more fields than the header has")
            continue
        raw = tuple(row.values())
        size = sum(len(value) for value in raw if isinstance(value, str))
        record = {key.strip().lower(): value for key, value in row.items() if key}
        yield where, recent.outcome(raw, size, where, lambda: paper_or_skip(record, where))


# A page line longer than this is an abstract; a title is shorter. Measured on the bundled page: titles run
# to 160 characters, abstracts start at 400.
_TITLE_MAX = 300
_ABSTRACT_MIN = 200


def _read_page(handle: IO[str], name: str, max_chars: int, recent: _Recent | None = None) -> Iterator[Record]:
    """Title line + abstract line pairs; the page header before the first pair is not a record. (Repeats are
    not looked for: a page is a person's list, not a feed.)"""
    lines = ((n, clean_text(raw)) for n, raw in enumerate(handle, start=1))
    lines = ((n, text) for n, text in lines if text)
    seen_pair = False
    current = next(lines, None)
    while current is not None:
        number, text = current
        following = next(lines, None)
        if following is not None and len(text) <= _TITLE_MAX and len(following[1]) >= _ABSTRACT_MIN:
            title, abstract = text, following[1]
            where = f"{name}:{number}"
            if len(abstract) > max_chars:
                yield _skip(where, f"abstract of {len(abstract):,} characters is over the limit")
            else:
                paper = Paper(paper_id=paper_id_for(title), title=title, abstract=abstract)
                problem = invalid_text(paper)
                yield where, Skipped(location=where, reason=problem) if problem else paper
            seen_pair = True
            current = next(lines, None)
            continue
        if seen_pair:  # header lines come before the first paper; after it, a lone line is an error
            kind = "an abstract without a title" if len(text) >= _ABSTRACT_MIN else "a title without an abstract"
            yield _skip(f"{name}:{number}", kind)
        current = following
