"""What the damaged-index check costs: opening an embedded index and answering a first search, in a new process.

    python -m benchmarks.perf.open_check --tag seed              # the bundled seed, indexed into a temporary folder
    python -m benchmarks.perf.open_check --home DATA_FOLDER --tag 115k
    python -m benchmarks.perf.open_check --home DAMAGED_FOLDER --files-only --tag 115k-damaged

`rag/index/store_check.py` loads an embedded index once in a child process whenever its files changed since they
last loaded cleanly. Three ways of opening the same folder, each in a fresh process, ``--runs`` times:
``changed`` (no record of a clean load: the child runs, as after an ingest), ``unchanged`` (the record
matches: no child) and ``off`` (RAG_CHROMA_CHECK_ON_OPEN=false). Printed: the median seconds from
`Assistant(...)` to the end of the first `retrieve`, and the most the child process held (peak RSS).
The figures go to benchmarks/results/perf/open-check[-TAG].json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import add_results_arguments, write_results

CHILD = """
import json, resource, sys, time
from rag import Assistant, Settings
started = time.perf_counter()
assistant = Assistant(Settings(corpus={"auto_index": False}, llm={"base_url": "", "api_key": ""}))
assistant.retrieve("How do the authors make parameter-efficient fine-tuning cheaper?")
print(json.dumps({"seconds": time.perf_counter() - started,
                  "children_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def open_once(home: Path, mode: str) -> dict:
    stamp = home / "chroma-checked.json"
    if mode == "changed":
        stamp.unlink(missing_ok=True)
    env = {**os.environ, "RAG_HOME": str(home), "RAG_CHROMA_CHECK_ON_OPEN": "false" if mode == "off" else "true"}
    done = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, help="a built data folder (default: the seed, indexed into a temporary one)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--files-only", action="store_true", help="only time the file check (a damaged folder fails the rest)")
    add_results_arguments(parser)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        home = args.home
        if home is None:
            home = Path(scratch) / "home"
            from rag import Assistant, Settings

            assistant = Assistant(Settings(home=home, llm={"base_url": "", "api_key": ""}))
            assistant.ensure_ready()  # indexes the bundled seed
            assistant.close()
        from rag.index.store_check import torn_segments

        started = time.perf_counter()
        problems = torn_segments(home / "chroma")
        check_s = time.perf_counter() - started
        print(f"file check (rag.index.store_check.torn_segments): {check_s:.2f} s; "
              f"{'; '.join(problems) if problems else 'the files agree with their headers'}", flush=True)
        figures = {"file_check_s": round(check_s, 3), "problems": problems, "opens": {}}
        if not args.files_only:
            open_once(home, "unchanged")  # warm the page cache and record a clean load
            for mode in ("changed", "unchanged", "off"):
                runs = [open_once(home, mode) for _ in range(args.runs)]
                seconds = statistics.median(r["seconds"] for r in runs)
                child = max(r["children_peak_mb"] for r in runs)
                print(f"{mode:>9}: open + first retrieve {seconds:.2f} s (median of {args.runs})"
                      + (f", check process peak {child:,.0f} MB" if mode == "changed" else ""), flush=True)
                figures["opens"][mode] = {"median_s": round(seconds, 2), "runs": args.runs}
                if mode == "changed":
                    figures["opens"][mode]["check_process_peak_mb"] = round(child)
    write_results("open-check", figures, args)


if __name__ == "__main__":
    main()
