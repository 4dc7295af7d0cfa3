"""Prompt templates from ``prompts/`` and the messages built from them.

The instructions go in the system message; the retrieved sources and the user's question go in the user
message, each inside its own delimiters, as data. Text inside the data that looks like a delimiter (an
abstract containing "</sources>", a question containing "<question>") is defused first, so nothing in
an abstract or a question can close its block and pass itself off as an instruction.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from rag.text.markers import strip_markers
from rag.types import Hit

_TAGS = re.compile(r"<\s*(/?)\s*(sources?|question|conversation|turn)\b[^>]*>", re.IGNORECASE)


def load(directory: Path, name: str) -> str:
    return (Path(directory) / f"{name}.md").read_text(encoding="utf-8").strip()


def fill(template: str, **values: str) -> str:
    """``{{name}}`` placeholders replaced (not str.format: abstracts are full of braces)."""
    for key, value in values.items():
        template = template.replace("{{" + key + "}}", value)
    return template


def defuse(text: str) -> str:
    """Delimiter look-alikes inside data rewritten so they can't end the block they sit in."""
    return _TAGS.sub(lambda m: f"({m.group(1)}{m.group(2)})", text)


def _attribute(text: str) -> str:
    return defuse(text).replace('"', "'").replace("\n", " ")


def sources_block(hits: Sequence[Hit]) -> str:
    parts = []
    for number, hit in enumerate(hits, start=1):
        parts.append(f'<source n="{number}" title="{_attribute(hit.title)}">\n{defuse(hit.abstract or hit.text)}\n</source>')
    return "<sources>\n" + "\n".join(parts) + "\n</sources>"


def answer_messages(template: str, refusal: str, question: str, hits: Sequence[Hit]) -> list[dict]:
    user = (
        f"{sources_block(hits)}\n\n<question>\n{defuse(question)}\n</question>\n\n"
        "Answer the question from the numbered sources, citing [n] after every claim."
    )
    return [
        {"role": "system", "content": fill(template, refusal=refusal)},
        {"role": "user", "content": user},
    ]


def condense_messages(template: str, question: str, turns: Sequence[dict], max_chars: int = 1500) -> list[dict]:
    lines = []
    for turn in turns:
        content = strip_markers(turn["content"], "")  # markers mean nothing here
        lines.append(f'<turn role="{turn["role"]}">{defuse(content[:max_chars])}</turn>')
    user = (
        "<conversation>\n" + "\n".join(lines) + f'\n<turn role="user" last="true">{defuse(question)}</turn>\n</conversation>\n\n'
        "The standalone question:"
    )
    return [{"role": "system", "content": template}, {"role": "user", "content": user}]
