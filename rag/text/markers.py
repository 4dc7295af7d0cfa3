"""The citation-marker grammar, the one place it is written.

`[1]` · `[1, 3]` · `[1;2]` · `[1-3]` · `[ 2 ]` · `[Source 2]` (small local models write that one). The
answerers write markers, the citation check parses and renumbers them, the chat draws them as links, the
conversation strips them from earlier turns, and the evaluation ignores them when matching facts: all
through `MARKER` and `marker_numbers`.
"""

from __future__ import annotations

import re

MARKER = re.compile(
    r"\[\s*(?:(?:sources?|refs?|papers?)\s*)?(\d{1,3}(?:\s*(?:,|;|-|–|—|and)\s*\d{1,3})*)\s*\]", re.IGNORECASE
)
# Markers at the start of a piece of text: they belong to the sentence before.
LEADING_MARKERS = re.compile(r"^(?:\s*\[\s*\d[^\[\]]*\])+")
MAX_RANGE = 20  # [1-300] is not a range of sources


def marker_numbers(inner: str) -> list[int]:
    """The numbers one marker names, ranges expanded: "1, 3-5" -> [1, 3, 4, 5]."""
    numbers: list[int] = []
    for part in re.split(r"\s*(?:,|;|and)\s*", inner.strip(), flags=re.IGNORECASE):
        bounds = re.split(r"\s*[-–—]\s*", part)
        if len(bounds) == 2 and bounds[0].isdigit() and bounds[1].isdigit():
            lo, hi = int(bounds[0]), int(bounds[1])
            numbers.extend(range(lo, hi + 1) if 0 <= hi - lo <= MAX_RANGE else [lo, hi])
        elif part.isdigit():
            numbers.append(int(part))
    return numbers


def strip_markers(text: str, replacement: str = " ") -> str:
    """``text`` without its citation markers."""
    return MARKER.sub(replacement, text)
