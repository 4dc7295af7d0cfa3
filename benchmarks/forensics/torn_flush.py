"""What Chroma 1.5 does with a half-saved HNSW segment: the failure behind the 115k folder, reproduced small.

    python -m benchmarks.forensics.torn_flush

Chroma saves a collection's HNSW index by rewriting its files in place: header.bin first, then
data_level0.bin, length.bin and link_lists.bin. A process killed in between leaves link_lists.bin shorter
than the header says. This builds a 2,500-vector collection, cuts its link_lists.bin in half (what such a
kill leaves), then, in a fresh process limited to 1 GiB per file (RLIMIT_FSIZE, so the disk is safe), opens
it, queries it and adds 1,000 vectors. It prints what `rag.index.store_check.torn_segments` says of the files
before and after, their sizes, and whether Chroma complained. Without the limit its save goes on writing
until the disk is full. Nothing of ours is involved but the check: plain chromadb, random vectors.
The figures go to benchmarks/results/forensics/torn-flush[-TAG].json.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.common import add_results_arguments, write_results
from rag.index.store_check import torn_segments

CHILD = """
import sys, numpy as np, chromadb
client = chromadb.PersistentClient(path=sys.argv[1], settings=chromadb.Settings(anonymized_telemetry=False))
collection = client.get_collection("vectors")
rng = np.random.default_rng(1)
probe = rng.normal(size=(1, 384)).astype("float32")
print(f"opened without complaint: count {collection.count():,}, a query returns {len(collection.query(query_embeddings=probe, n_results=3)['ids'][0])} ids")
for batch in range(2):
    collection.add(ids=[f"new-{batch}-{i}" for i in range(500)], embeddings=rng.normal(size=(500, 384)).astype("float32"))
print(f"added 1,000: count {collection.count():,}")
"""

LIMIT = 2**30


def chunk_segment(chroma_dir: Path) -> Path:
    return max((p for p in chroma_dir.iterdir() if (p / "link_lists.bin").is_file()),
               key=lambda p: (p / "data_level0.bin").stat().st_size)


def describe(chroma_dir: Path, when: str) -> dict:
    folder = chunk_segment(chroma_dir)
    sizes = ", ".join(f"{name} {(folder / name).stat().st_size:,} B ({(folder / name).stat().st_blocks * 512:,} on disk)"
                      for name in ("data_level0.bin", "link_lists.bin"))
    problems = torn_segments(chroma_dir)
    print(f"{when}: {sizes}; check: {problems or 'intact'}", flush=True)
    # The segment's folder name is a random UUID: left out of the figures, which are compared across runs.
    return {"when": when, "problems": [p.replace(folder.name + "/", "") for p in problems],
            **{name: {"length": (folder / name).stat().st_size, "on_disk": (folder / name).stat().st_blocks * 512}
               for name in ("data_level0.bin", "link_lists.bin")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_results_arguments(parser)
    args = parser.parse_args()
    import chromadb

    stages = []

    with tempfile.TemporaryDirectory() as scratch:
        chroma_dir = Path(scratch) / "chroma"
        client = chromadb.PersistentClient(path=str(chroma_dir), settings=chromadb.Settings(anonymized_telemetry=False))
        collection = client.get_or_create_collection("vectors", embedding_function=None, configuration={"hnsw": {"space": "cosine"}})
        rng = np.random.default_rng(0)
        for batch in range(5):
            collection.add(ids=[f"v-{batch}-{i}" for i in range(500)], embeddings=rng.normal(size=(500, 384)).astype("float32"))
        del collection, client
        # A new process sees only what is on disk; the in-process client above has let go of nothing it needs.
        stages.append(describe(chroma_dir, "built (2,500 vectors)"))
        links = chunk_segment(chroma_dir) / "link_lists.bin"
        os.truncate(links, links.stat().st_size // 2)
        stages.append(describe(chroma_dir, "link_lists.bin cut in half"))
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(chroma_dir)], capture_output=True, text=True,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT)),
        )
        print(done.stdout.strip())
        if done.returncode:
            print(f"the process ended with {done.returncode}: {done.stderr.strip()[-300:]}")
        stages.append(describe(chroma_dir, "after Chroma's next save"))
        reached = links.stat().st_size >= LIMIT
        if reached:
            print(f"link_lists.bin reached the {LIMIT:,}-byte limit set for this run: Chroma's save kept writing past its records")
    write_results("torn-flush", {
        "stages": stages,
        "child": {"exit": done.returncode, "stdout": done.stdout.strip().splitlines()},
        "file_size_limit": LIMIT,
        "link_lists_reached_limit": reached,
    }, args)


if __name__ == "__main__":
    main()
