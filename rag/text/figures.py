"""What counts as a figure, written once.

A number that is not part of a name (CIFAR-10, PubChem3D, 3D are names), a number word, or an asymptotic
expression. The extractive answerer uses `has_figure` (a question asking "how many" needs a sentence
with a figure); the citation check uses `numbers` (a figure in a claim must be in the text it cites).
"""

from __future__ import annotations

import re

NUMBER = re.compile(r"(?<![\w.\-/])\d+(?:[.,]\d+)*(?![A-Za-z])")
FIGURE = re.compile(
    NUMBER.pattern + r"|\bO\(|\b(one|two|three|four|five|six|seven|eight|nine|ten|"
    r"twenty|hundred|thousand|million|billion|twice|half|double)\b|\b(linear|quadratic|cubic|logarithmic|"
    r"exponential|polynomial|sublinear|superlinear)(ly)?\b",
    re.IGNORECASE,
)


def has_figure(text: str) -> bool:
    return bool(FIGURE.search(text))


def numbers(text: str) -> set[str]:
    """The numbers written in ``text``, thousands separators dropped ("1,200" and "1200" are one)."""
    return {re.sub(r"[\s,]", "", m.group(0)) for m in NUMBER.finditer(text)}
