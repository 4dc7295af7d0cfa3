"""What the benchmarks share: the repository's paths, nearest-rank percentiles, a free port on 127.0.0.1, a
`chroma run` server, the seed questions, memory readings, and `write_results`, which records a run's
figures as JSON beside the commit, the machine and the command that produced them.

Every benchmark is a module run from the repository root, e.g. ``python -m benchmarks.perf.core``, and
imports the installed `rag` package (editable install) like any other client of it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

# Benchmarks run offline and quietly: the model is bundled, Chroma's telemetry off. Set before `rag` loads.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
BUNDLED = ROOT / "rag" / "data" / "trending_papers.txt"  # the bundled corpus (rag.settings.BUNDLED_CORPUS)
QUESTIONS = ROOT / "eval" / "questions.jsonl"
SHARED_DATA = ROOT.parent / "shared" / "data"  # the read-only data beside the checkout (its README.md)
ARXIV_SAMPLE = SHARED_DATA / "arxiv" / "sample_5000.jsonl"

_STARTED = time.time()
_LOAD_AT_START = os.getloadavg()[0]


# --- figures ------------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (q in 0..100): the value at round(q% of n-1) in sorted order."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def peak_rss_gb() -> float:
    """This process's peak resident size so far, GB (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def resident_mb(pid: int | str = "self") -> float:
    """A process's resident size now, MB, from /proc/<pid>/status (nan if it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return float("nan")
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024


# --- servers -------------------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port nothing listens on at 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_chroma_server(path: Path, timeout: float = 120) -> tuple[subprocess.Popen, int]:
    """`chroma run` over ``path`` on 127.0.0.1 and a free port, once it answers its heartbeat."""
    binary = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    port = free_port()
    process = subprocess.Popen(
        [binary, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + timeout
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1)
            return process, port
        except OSError:
            if time.time() > deadline or process.poll() is not None:
                process.kill()
                raise SystemExit("chroma run did not start")
            time.sleep(0.3)


# --- the index ----------------------------------------------------------------------------------------


def seed_questions():
    """The answerable questions of eval/questions.jsonl with relevant papers and no history (108)."""
    from rag.evaluation import load_questions

    questions, _ = load_questions(QUESTIONS)
    return [q for q in questions if q.answerable and q.relevant_titles and not q.history]


def set_ef_search(home: Path, ef_search: int) -> None:
    """Chroma's HNSW search width for the chunk collection in ``home`` (kept in the folder: pass it again to undo)."""
    import chromadb

    client = chromadb.PersistentClient(path=str(home / "chroma"), settings=chromadb.Settings(anonymized_telemetry=False))
    chunks = client.get_collection("abstracts_chunks")
    chunks.modify(configuration={"hnsw": {"ef_search": ef_search}})
    print(f"ef_search of {home}'s chunk collection set to {chunks.configuration['hnsw']['ef_search']} (Chroma's default: 100)")


# --- results ------------------------------------------------------------------------------------------


def add_results_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``--tag`` (a variant's suffix for the results file) and ``--no-results``."""
    parser.add_argument("--tag", help="suffix of the results file: benchmarks/results/<area>/<name>-<tag>.json "
                                      "(e.g. 115k, ef200: one file per variant run)")
    parser.add_argument("--no-results", action="store_true", help="print only; write no results file")
    return parser


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def commit() -> dict[str, Any]:
    """HEAD, and whether tracked files differ from it (then the run measured more than the commit: the
    changed files are listed)."""
    changed = [line[3:] for line in _git("status", "--porcelain", "--untracked-files=no").splitlines() if line.strip()]
    return {"sha": _git("rev-parse", "HEAD").strip() or None, "dirty": bool(changed), "changed_files": changed[:50]}


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").is_file() else ""
    total = re.search(r"MemTotal:\s+(\d+) kB", meminfo)
    versions = {}
    for package in ("chromadb", "torch", "numpy", "transformers", "gradio", "llama-index-core"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model.group(1).strip() if model else platform.processor() or None,
        "ram_gib": round(int(total.group(1)) / 1024**2, 1) if total else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": {"start": round(_LOAD_AT_START, 2), "end": round(os.getloadavg()[0], 2)},
        "packages": versions,
    }


_SECRET = re.compile(r"KEY|TOKEN|AUTH|PASSWORD|SECRET", re.IGNORECASE)


def command() -> dict[str, Any]:
    """The command line as typed (the interpreter written as `python`), and the RAG_/MALLOC_ settings of
    the environment that change what is measured (never a key, token or password)."""
    argv = getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv]
    environment = {k: v for k, v in sorted(os.environ.items())
                   if k.startswith(("RAG_", "MALLOC_")) and not _SECRET.search(k)}
    return {"line": shlex.join(["python", *argv[1:]]), "cwd": os.path.relpath(Path.cwd(), ROOT), "environment": environment}


def _plain(value: Any) -> Any:
    """JSON for numpy scalars and arrays, paths, tuples and sets."""
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (Path, os.PathLike)):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON: {value!r}")


def _relative(value: Any) -> Any:
    """A path beside or inside the checkout as seen from its root (../shared/data/..., eval/...), so that
    results name no folder of one machine; anything else as it is."""
    if isinstance(value, (str, Path)) and os.path.isabs(value) and Path(value).resolve().is_relative_to(ROOT.parent):
        return os.path.relpath(value, ROOT)
    return value


def write_results(name: str, figures: dict, args: argparse.Namespace | None = None, area: str | None = None) -> Path | None:
    """Write benchmarks/results/<area>/<name>[-<tag>].json: the figures, the commit, the machine, the command,
    the date (UTC) and the parsed arguments (defaults included). ``area`` defaults to the calling script's
    folder (perf, memory, quality, forensics). Prints where it wrote; returns the path."""
    if args is not None and getattr(args, "no_results", False):
        return None
    if area is None:
        caller = sys._getframe(1).f_globals.get("__file__")
        area = Path(caller).resolve().parent.name if caller else "misc"
    tag = getattr(args, "tag", None) if args is not None else None
    path = RESULTS / area / (f"{name}-{tag}.json" if tag else f"{name}.json")
    arguments = {k: _relative(v) for k, v in vars(args).items() if k not in ("tag", "no_results")} if args is not None else {}
    record = {
        "figures": figures,
        "commit": commit(),
        "machine": machine(),
        "command": command(),
        "arguments": arguments,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "elapsed_s": round(time.time() - _STARTED, 1),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2, default=_plain, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"results written to {path.relative_to(ROOT)}")
    return path
