"""Where an ingest's memory goes: resident size against papers ingested, split into heap, anonymous maps, files.

    python -m benchmarks.memory.ingest_memory --limit 2000 --tag plain [--corpus ../shared/data/arxiv/sample_5000.jsonl]
    python -m benchmarks.memory.ingest_memory --limit 2000 --trim --tag trim
    MALLOC_ARENA_MAX=2 python -m benchmarks.memory.ingest_memory --limit 2000 --tag arena2
    python -m benchmarks.memory.ingest_memory --limit 2000 --server --tag server   # into `chroma run`: the HNSW index in its process

Ingests into a fresh data folder (the model loaded first) and samples /proc/self after every batch: the
resident size (RSS), glibc's main heap, anonymous maps (Chroma's HNSW index lives in one; glibc's per-thread
arenas are others) and file maps (libraries, the model's weights). The growth per paper after the first
batches separates what every paper costs (its vectors in the in-memory HNSW index: 384 floats per chunk)
from what the allocator keeps (freed memory it does not give back). The ingest hands that back once, at
its end (`rag.ingest.memory.release_freed_memory`, glibc's ``malloc_trim(0)``); ``--trim`` does it after every
batch as well, to see whether that would lower the peak. ``MALLOC_ARENA_MAX`` caps glibc's per-thread
arenas. Each sample is taken once the batch's writes are done, so the writes overlap the next encode less
than in a plain ingest; the peak RSS (VmHWM) also catches what a batch holds while it runs.
The figures go to benchmarks/results/memory/ingest-memory[-TAG].json.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.common import ARXIV_SAMPLE, add_results_arguments, start_chroma_server, write_results
from rag import Assistant, Settings
from rag.index.embedding import make_embedder
from rag.ingest import indexer, memory

_MAP = re.compile(r"^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+(?:\s+(.*))?$")


def memory_mb() -> dict[str, float]:
    """RSS and its split (heap, anonymous, files), and the peak RSS so far, in MB."""
    split = {"heap": 0, "anon": 0, "files": 0}
    kind = "anon"
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            head = _MAP.match(line)
            if head:
                name = (head.group(1) or "").strip()
                kind = "heap" if name == "[heap]" else "anon" if not name or name.startswith("[anon") else "files"
            elif line.startswith("Rss:"):
                split[kind] += int(line.split()[1])
    status = Path("/proc/self/status").read_text()
    peak = int(re.search(r"VmHWM:\s+(\d+)", status).group(1))
    out = {key: value / 1024 for key, value in split.items()}
    out["rss"] = sum(out.values())
    out["peak"] = peak / 1024
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ARXIV_SAMPLE)
    parser.add_argument("--limit", type=int, default=3000)
    parser.add_argument("--trim", action="store_true", help="malloc_trim(0) after every batch, not only at the end")
    parser.add_argument("--server", action="store_true", help="write into a `chroma run` on 127.0.0.1 and report its RSS too")
    add_results_arguments(parser)
    args = parser.parse_args()

    embedder = make_embedder("minilm").load()
    embedder.encode(["warm up"])
    loaded = memory_mb()
    print(f"MALLOC_ARENA_MAX={os.environ.get('MALLOC_ARENA_MAX', 'unset')}, malloc_trim after each batch: {args.trim}")
    print(f"model loaded: RSS {loaded['rss']:.0f} MB (heap {loaded['heap']:.0f}, anon {loaded['anon']:.0f}, files {loaded['files']:.0f})")

    samples: list[tuple[int, int, dict[str, float]]] = []
    embed_and_write = indexer.Indexer._embed_and_write

    def sampled(self, batch, report, writer):
        result = embed_and_write(self, batch, report, writer)
        writer.wait()  # the batch's writes done, so the sample sees them
        if args.trim:
            memory.release_freed_memory()
        samples.append((report.added + report.updated, report.chunks, memory_mb()))
        return result

    indexer.Indexer._embed_and_write = sampled
    home = Path(tempfile.mkdtemp(prefix="rag-memory-"))
    server = None
    chroma = {}
    if args.server:
        server, port = start_chroma_server(home / "server")
        chroma = {"host": "127.0.0.1", "port": port}
    try:
        assistant = Assistant(Settings(home=home, corpus={"auto_index": False}, chroma=chroma, llm={"base_url": "", "api_key": ""}), embedder=embedder)
        started = time.perf_counter()
        report = assistant.ingest([args.corpus], progress=False, limit=args.limit)
        wall = time.perf_counter() - started
        print(f"ingested {report.added:,} papers, {report.chunks:,} chunks in {wall:.0f} s\n")
        print("papers | chunks | RSS MB | heap | anon | files | peak RSS")
        for papers, chunks, m in samples:
            print(f"{papers:6,} | {chunks:7,} | {m['rss']:6.0f} | {m['heap']:5.0f} | {m['anon']:5.0f} | {m['files']:5.0f} | {m['peak']:6.0f}")
        figures = {
            "malloc_arena_max": os.environ.get("MALLOC_ARENA_MAX"),
            "trim_after_each_batch": args.trim,
            "server": args.server,
            "model_loaded_mb": {k: round(v) for k, v in loaded.items() if k != "peak"},
            "papers": report.added,
            "chunks": report.chunks,
            "ingest_s": round(wall),
            "samples": [{"papers": p, "chunks": c, **{k: round(v) for k, v in m.items()}} for p, c, m in samples],
        }
        if len(samples) >= 3:
            (p0, c0, m0), (p1, c1, m1) = samples[len(samples) // 3], samples[-1]
            per_paper = (m1["rss"] - m0["rss"]) * 1024 / max(p1 - p0, 1)
            print(f"\ngrowth from {p0:,} to {p1:,} papers: {per_paper:.1f} KB per paper "
                  f"({(m1['anon'] - m0['anon']) * 1024 / max(p1 - p0, 1):.1f} anon, {(m1['heap'] - m0['heap']) * 1024 / max(p1 - p0, 1):.1f} heap); "
                  f"the HNSW index's share: {(c1 - c0) / max(p1 - p0, 1) * (384 * 4 + 140) / 1024:.1f} KB per paper "
                  f"({(c1 - c0) / max(p1 - p0, 1):.1f} chunks per paper x (384 floats + links))")
            figures["growth_kb_per_paper"] = {"from_papers": p0, "to_papers": p1, "rss": round(per_paper, 1),
                                              "anon": round((m1["anon"] - m0["anon"]) * 1024 / max(p1 - p0, 1), 1),
                                              "heap": round((m1["heap"] - m0["heap"]) * 1024 / max(p1 - p0, 1), 1)}
        final = memory_mb()
        print(f"peak RSS {final['peak']:.0f} MB ({final['peak'] - loaded['rss']:.0f} MB over the loaded model); "
              f"after the ingest (freed memory handed back): {final['rss']:.0f} MB")
        figures["peak_mb"] = round(final["peak"])
        figures["after_ingest_mb"] = round(final["rss"])
        if server is not None:
            status = Path(f"/proc/{server.pid}/status").read_text()
            server_rss, server_peak = (int(re.search(rf"{key}:\s+(\d+)", status).group(1)) / 1024 for key in ("VmRSS", "VmHWM"))
            print(f"the chroma run server (pid {server.pid}): RSS {server_rss:.0f} MB, peak {server_peak:.0f} MB")
            figures["server_rss_mb"] = {"rss": round(server_rss), "peak": round(server_peak)}
        assistant.close()
        write_results("ingest-memory", figures, args)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=60)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
