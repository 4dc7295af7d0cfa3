"""Check an embedded Chroma folder before this process trusts it: its files, then a load in a child process.

Chroma 1.5 saves HNSW files in place; a process killed during a save leaves them half-written, and Chroma
opens those without complaint, damages them further on its next save, and finally crashes the whole
process (SIGSEGV) loading them instead of raising (chroma-core/chroma#7510, #7238; BENCHMARKS.md, "The full
115k": a 115k-abstract folder built here did this). A crash can't be caught in-process, and in the web app
it would take the chat down with it. So the first time a process opens a folder whose index files changed
since they last loaded cleanly: (1) each segment's files must agree with their own header (`torn_segments`),
(2) a child process opens the folder and reads every collection. Either failing ends in a `StoreError` that
says what is wrong; nothing indexed is changed. A clean load is remembered (a fingerprint of the segment
files, in ``RAG_HOME/chroma-checked.json``), so an unchanged index costs nothing; the first open after an
ingest pays one extra load (lost in the noise on the seed, ~4 s at 115k: BENCHMARKS.md, "Opening check").
"""

from __future__ import annotations

import json
import logging
import signal
import struct
import subprocess
import sys
from pathlib import Path

from rag.errors import StoreError

log = logging.getLogger(__name__)

# What the product's first reads do: count, one stored vector, one nearest-neighbour query.
_PROBE = """
import sys, chromadb
client = chromadb.PersistentClient(path=sys.argv[1], settings=chromadb.Settings(anonymized_telemetry=False, allow_reset=False))
names = {c.name for c in client.list_collections()}
for name in sys.argv[2:]:
    if name not in names:
        continue
    collection = client.get_collection(name, embedding_function=None)
    if collection.count():
        got = collection.get(limit=1, include=["embeddings"])
        if len(got["embeddings"]):
            collection.query(query_embeddings=[got["embeddings"][0]], n_results=1, include=[])
"""

REBUILD = (
    "Move the folder aside, point RAG_HOME at a new one and ingest your corpus again; `rag ingest --vectors-from "
    "OLD_FOLDER FILES` reuses the vectors the old folder holds instead of embedding them again (README, \"A damaged index\")."
)

# Folders this process has opened or checked: a second open here must not start a second process on them
# (an embedded folder has one process at a time), and needs no check.
_seen: set[Path] = set()


# hnswlib's header as Chroma persists it: a format version, then the fields of hnswlib's saveIndex.
HEADER = struct.Struct("<iQQQQQQiIQQQdQ")
HEADER_FIELDS = ("version", "offset_level0", "max_elements", "count", "size_per_element", "label_offset",
                 "offset_data", "max_level", "entry_point", "max_m", "max_m0", "m", "mult", "ef_construction")


def read_header(segment: Path) -> dict:
    return dict(zip(HEADER_FIELDS, HEADER.unpack(segment.joinpath("header.bin").read_bytes()[: HEADER.size])))


def link_lists_end(path: Path, count: int, size_links: int) -> int | None:
    """Where ``count`` link-list records end when ``link_lists.bin`` is read front to back (hnswlib's layout:
    a u32 byte size, then that many bytes), or None if the file stops first."""
    with path.open("rb") as handle:
        data = handle.read(count * (4 + size_links))  # a bound: a damaged file can be terabytes long (sparse)
    offset = 0
    for _ in range(count):
        if offset + 4 > len(data):
            return None
        offset += 4 + struct.unpack_from("<I", data, offset)[0]
    return offset if offset <= len(data) else None


def torn_segments(chroma_dir: Path) -> list[str]:
    """What is wrong with each HNSW segment whose files disagree with their own header, in words.

    Chroma saves a segment by rewriting header.bin, then data_level0.bin, length.bin and link_lists.bin in
    place. A process killed part-way leaves files shorter than the header says; Chroma 1.5 loads them
    without complaint, reads garbage link-list sizes, and its next save seeks by them, writing link_lists.bin
    out to gigabytes or terabytes (chroma-core/chroma#7510) until a load crashes. Intact files agree (every
    folder built here passes, the rebuilt 115k included).
    """
    problems = []
    for segment in sorted(p for p in chroma_dir.iterdir() if (p / "header.bin").is_file()):
        try:
            header = read_header(segment)
        except struct.error:
            problems.append(f"{segment.name}/header.bin is cut short")
            continue
        count, element = header["count"], header["size_per_element"]
        expected = {"data_level0.bin": count * element, "length.bin": count * 4}
        for name, size in expected.items():
            actual = segment.joinpath(name).stat().st_size if segment.joinpath(name).is_file() else 0
            if actual < size:
                problems.append(f"{segment.name}/{name} holds {actual:,} bytes of the {size:,} its header announces")
        links = segment / "link_lists.bin"
        if not links.is_file():
            problems.append(f"{segment.name}/link_lists.bin is missing")
            continue
        end = link_lists_end(links, count, header["max_m"] * 4 + 4)
        length = links.stat().st_size
        if end is None:
            problems.append(f"{segment.name}/link_lists.bin stops before its {count:,} records end")
        elif end != length:
            problems.append(f"{segment.name}/link_lists.bin is {length:,} bytes long but its records end at byte {end:,}")
    return problems


def fingerprint(chroma_dir: Path) -> list[list]:
    """Name, size and modification time of every file of every segment folder: what a load reads."""
    files = []
    for segment in sorted(p for p in chroma_dir.iterdir() if p.is_dir()):
        for path in sorted(segment.iterdir()):
            stat = path.stat()
            files.append([f"{segment.name}/{path.name}", stat.st_size, stat.st_mtime_ns])
    return files


def check_embedded_store(chroma_dir: Path, collections: list[str], stamp: Path, timeout: float) -> None:
    """Raise `StoreError` if opening ``chroma_dir`` crashes Chroma; see the module's docstring."""
    chroma_dir = chroma_dir.resolve()
    if chroma_dir in _seen or not chroma_dir.is_dir():
        return
    _check(chroma_dir, collections, stamp, timeout)
    _seen.add(chroma_dir)  # only once it passed: a refused folder is refused again on the next try


def _check(chroma_dir: Path, collections: list[str], stamp: Path, timeout: float) -> None:
    import chromadb

    before = fingerprint(chroma_dir)
    if not before:
        return  # nothing flushed yet: nothing a load could trip over
    recorded = _read_stamp(stamp)
    if recorded == {"chromadb": chromadb.__version__, "files": before}:
        return
    torn = torn_segments(chroma_dir)
    if torn:
        raise StoreError(
            f"The index in {chroma_dir} was left half-saved, most likely by a process stopped while Chroma was "
            f"writing it ({'; '.join(torn)}). Chroma would open it without complaint and damage it further on "
            f"its next save, so it wasn't opened. Nothing indexed was changed. {REBUILD}"
        )
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE, str(chroma_dir), *collections],
            capture_output=True, text=True, timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        log.warning("checking %s took over %.0f s; opening it without the check", chroma_dir, timeout)
        return
    if done.returncode < 0:
        try:
            name = signal.Signals(-done.returncode).name
        except ValueError:
            name = f"signal {-done.returncode}"
        raise StoreError(
            f"The index in {chroma_dir} is damaged: Chroma crashed ({name}) loading it, so it wasn't opened here. "
            f"Nothing indexed was changed. {REBUILD}"
        )
    if done.returncode:
        # Chroma raised rather than crashed: the open in this process raises the same and says so there.
        log.debug("checking %s: %s", chroma_dir, done.stderr.strip()[-500:])
        return
    try:
        # The child may have folded Chroma's log into the files: record them as they are now.
        stamp.write_text(json.dumps({"chromadb": chromadb.__version__, "files": fingerprint(chroma_dir)}))
    except OSError as exc:  # a read-only folder: checked again next time, nothing worse
        log.debug("can't record the check of %s: %s", chroma_dir, exc)


def _read_stamp(stamp: Path) -> dict | None:
    try:
        return json.loads(stamp.read_text())
    except (OSError, ValueError):
        return None
