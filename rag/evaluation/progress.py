"""Progress of a long evaluation on stderr: a counter on a terminal, a line every 50 in a log."""

from __future__ import annotations

import sys


def progress_printer(label: str):
    tty = sys.stderr.isatty()

    def report(i: int, n: int) -> None:
        if tty:
            print(f"\r{label}: {i}/{n}", end="" if i < n else "\n", file=sys.stderr, flush=True)
        elif i == n or i % 50 == 0:
            print(f"{label}: {i}/{n}", file=sys.stderr, flush=True)

    return report
