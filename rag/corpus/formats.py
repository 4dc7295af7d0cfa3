"""Which corpus format a file is in, and opening it as text (gzip or not) without reading it whole."""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import IO

from rag.corpus.records import ABSTRACT_KEYS
from rag.errors import CorpusFormatError
from rag.text.clean import LONE_SURROGATE

FORMATS = ("page", "jsonl", "json", "csv")
_BY_SUFFIX = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".txt": "page", ".md": "page"}


def open_text(path: Path) -> IO[str]:
    """The file as a text stream, decompressed on the fly when it is gzip (by its first bytes, not its name).

    Undecodable bytes come through as lone surrogates (``surrogateescape``): a stray bad line is skipped
    and reported by the reader, not fatal to the file.
    """
    raw = path.open("rb")
    head = raw.read(2)
    raw.seek(0)
    stream: IO[bytes] = gzip.GzipFile(fileobj=raw) if head == b"\x1f\x8b" else raw  # type: ignore[assignment]
    # newline="" keeps CSV's quoted line breaks intact.
    return io.TextIOWrapper(stream, encoding="utf-8", errors="surrogateescape", newline="")


def detect_format(path: Path) -> str:
    """The corpus format of ``path`` (one of `FORMATS`), from its name, else from its first bytes.

    Raises `CorpusFormatError` for a file that is none of them (binary, another encoding, empty).
    """
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    suffix = Path(name).suffix
    try:
        with open_text(path) as handle:
            head = handle.read(4096)
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as exc:
        raise CorpusFormatError(f"{path}: not a text corpus file ({exc.__class__.__name__}: {exc})") from None
    except OSError as exc:
        raise CorpusFormatError(f"{path}: can't be read ({exc.strerror or exc})") from None
    if "\x00" in head:
        raise CorpusFormatError(f"{path}: binary data, not a corpus file")
    undecodable = len(LONE_SURROGATE.findall(head))
    if undecodable > 16 and undecodable > len(head) // 100:  # a stray bad line is skipped; this is another encoding
        raise CorpusFormatError(f"{path}: not UTF-8 text ({undecodable} undecodable bytes in its first 4,096 characters); convert it to UTF-8 first (e.g. iconv -f latin1 -t utf-8)")
    if not head.strip():
        raise CorpusFormatError(f"{path}: the file is empty")
    stripped = head.lstrip()
    if suffix == ".json" and stripped.startswith("{"):
        # A single object on one line each is JSON Lines in disguise; a pretty-printed object is JSON.
        first_line = stripped.split("\n", 1)[0].strip()
        return "jsonl" if first_line.endswith("}") else "json"
    if suffix in _BY_SUFFIX:
        return _BY_SUFFIX[suffix]
    if stripped.startswith("["):
        return "json"
    if stripped.startswith("{"):
        return "jsonl"
    first_line = stripped.split("\n", 1)[0].lower()
    if "," in first_line and "title" in first_line and any(k in first_line for k in ABSTRACT_KEYS):
        return "csv"
    raise CorpusFormatError(
        f"{path}: unknown corpus format; expected page text (.txt), JSON Lines (.jsonl), JSON (.json) "
        "or CSV (.csv) with title and abstract, optionally gzip-compressed (.gz)"
    )


def count_records(path: Path, fmt: str) -> int | None:
    """A cheap count of the records in a file of format ``fmt``, for the progress bar (None when unknown)."""
    if fmt not in ("jsonl", "csv"):
        return None
    try:
        with open_text(path) as handle:
            return sum(1 for line in handle if line.strip()) - (1 if fmt == "csv" else 0)
    except (OSError, UnicodeDecodeError, EOFError):
        return None
