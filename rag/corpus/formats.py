"""Which corpus format a file is in, and opening it as text (gzip or not) without reading it whole.

A file can be read under `ReadLimits`: at most so many unpacked bytes and records (an upload's limits). A
gzip file's unpacked size is known only by reading it, so the bytes are counted as they are decompressed
and the read fails (`CorpusTooLarge`) the moment the limit is passed: a 4 MB file that unpacks to 1 GB is
refused after the limit's worth of reading, not after the gigabyte.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from rag.corpus.records import ABSTRACT_KEYS
from rag.errors import CorpusFormatError, CorpusTooLarge
from rag.text.clean import LONE_SURROGATE

FORMATS = ("page", "jsonl", "json", "csv")
_BY_SUFFIX = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".txt": "page", ".md": "page"}
_MB = 1024 * 1024


@dataclass(frozen=True)
class ReadLimits:
    """How much of one corpus file may be read: unpacked bytes and records (None: no limit)."""

    max_bytes: int | None = None
    max_records: int | None = None

    def too_many_records(self, path: Path | str) -> CorpusTooLarge:
        return CorpusTooLarge(f"{path}: holds more than {self.max_records:,} records", kind="records", limit=self.max_records or 0)


class _Capped(io.RawIOBase):
    """A byte stream that fails once its position passes ``limit``: the unpacked size of a gzip file is counted
    as it is decompressed. Closing it closes the file under the decompressor too."""

    def __init__(self, stream: IO[bytes], file: IO[bytes], limit: int | None, path: Path) -> None:
        self._stream, self._file, self._limit, self._path = stream, file, limit, path

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._stream.seekable()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._stream.seek(offset, whence)

    def tell(self) -> int:
        return self._stream.tell()

    def readinto(self, buffer) -> int:
        read = self._stream.readinto(buffer)
        if self._limit is not None and self._stream.tell() > self._limit:
            raise CorpusTooLarge(
                f"{self._path}: unpacks to more than {self._limit / _MB:,.0f} MB", kind="bytes", limit=self._limit
            )
        return read

    def close(self) -> None:
        if not self.closed:
            try:
                self._stream.close()
            finally:
                self._file.close()
        super().close()


def open_text(path: Path, max_bytes: int | None = None) -> IO[str]:
    """The file as a text stream, decompressed on the fly when it is gzip (by its first bytes, not its name).

    Undecodable bytes come through as lone surrogates (``surrogateescape``): a stray bad line is skipped
    and reported by the reader, not fatal to the file. With ``max_bytes``, reading past that many unpacked
    bytes raises `CorpusTooLarge`.
    """
    raw = path.open("rb")
    head = raw.read(2)
    raw.seek(0)
    stream: IO[bytes] = gzip.GzipFile(fileobj=raw) if head == b"\x1f\x8b" else raw  # type: ignore[assignment]
    capped = io.BufferedReader(_Capped(stream, raw, max_bytes, path), buffer_size=1 << 16)
    # newline="" keeps CSV's quoted line breaks intact.
    return io.TextIOWrapper(capped, encoding="utf-8", errors="surrogateescape", newline="")


def bounded_lines(handle: IO[str], max_chars: int) -> Iterator[tuple[int, str | None, int]]:
    """``(line number, line, length)`` for each line; a line longer than ``max_chars`` comes as ``None`` with
    its length, read past in pieces, so one endless line never has to fit in memory."""
    number = 0
    while True:
        line = handle.readline(max_chars + 1)
        if not line:
            return
        number += 1
        if len(line) <= max_chars or line.endswith("\n"):
            yield number, line, len(line)
            continue
        length = len(line)
        while not line.endswith("\n"):
            line = handle.readline(1 << 20)
            if not line:
                break
            length += len(line)
        yield number, None, length


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


def count_records(path: Path, fmt: str, limits: ReadLimits | None = None) -> int | None:
    """A cheap count of the records in a file of format ``fmt``, for the progress bar (None when unknown).

    With ``limits`` the whole file is read whatever its format, and `CorpusTooLarge` raised as soon as it
    passes the byte limit, or (JSON Lines, one record a line) the record limit: checked before anything of
    it is indexed. The other formats' records are counted as they are read (`rag.corpus.readers`).
    """
    counted = fmt in ("jsonl", "csv")
    if not counted and limits is None:
        return None
    max_records = limits.max_records if limits is not None and fmt == "jsonl" else None
    try:
        with open_text(path, limits.max_bytes if limits else None) as handle:
            if not counted:
                while handle.read(1 << 20):
                    pass
                return None
            records = 0
            for _, line, _ in bounded_lines(handle, 1 << 20):
                if line is None or line.strip():
                    records += 1
                    if max_records is not None and records > max_records:
                        raise limits.too_many_records(path)  # type: ignore[union-attr]
            return records - (1 if fmt == "csv" else 0)
    except (OSError, UnicodeDecodeError, EOFError, zlib.error):  # the reader reports a damaged file by line
        return None
