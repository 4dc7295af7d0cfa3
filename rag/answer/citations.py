"""A generated answer's markers and links, made safe: as it streams and once it is whole.

A model's `[n]` markers are where generative assistants go wrong most: numbers naming no source, the
wrong source for a number, one source cited for everything. Here:

1. Links the sources don't contain are removed (an injected "visit http://..." must not reach the user).
2. Markers are parsed (`rag.text.markers`); numbers naming no retrieved source are dropped and reported;
   the rest are renumbered in order of first use, so the answer cites [1], [2], ...

The stream shows the same numbers and the same link removals as the final check (`StreamCleaner`); what
each cited claim is worth is judged in `rag.answer.support`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from rag.text.instructions import is_instruction
from rag.text.markers import MARKER, marker_numbers
from rag.text.sentences import cached_sentences
from rag.types import Hit

_URL = re.compile(r"https?://[^\s<>()\[\]\"']+|www\.[^\s<>()\[\]\"']+")
_MD_LINK = re.compile(r"\[([^\[\]]+)\]\((https?://[^\s)]+)\)")
@lru_cache(maxsize=4096)
def instruction_sentences(abstract: str) -> frozenset[int]:
    """Sentences of an abstract that address the assistant ("ignore previous instructions and ...").

    They are data the model must not obey, so they back no claim and vouch for no link.
    """
    return frozenset(i for i, s in enumerate(cached_sentences(abstract)) if is_instruction(s.text))


def usable_text(hit: Hit) -> str:
    """The title and abstract of a source without its instruction sentences."""
    skip = instruction_sentences(hit.abstract)
    kept = [s.text for i, s in enumerate(cached_sentences(hit.abstract)) if i not in skip]
    return f"{hit.title} " + " ".join(kept)


class Renumberer:
    """Rewrites markers: known sources renumbered by first use, unknown numbers dropped.

    Keeps its mapping, so the same instance can rewrite a stream piece by piece (`feed`/`flush`) and
    gives the same numbers as rewriting the whole text at once.
    """

    def __init__(self, sources: int) -> None:
        self.sources = sources
        self.mapping: dict[int, int] = {}  # source position (1-based) -> number in the answer
        self.dropped: list[int] = []
        self._pending = ""

    def _replace(self, match: re.Match) -> str:
        kept: list[int] = []
        for n in marker_numbers(match.group(1)):
            if 1 <= n <= self.sources:
                if n not in self.mapping:
                    self.mapping[n] = len(self.mapping) + 1
                if self.mapping[n] not in kept:
                    kept.append(self.mapping[n])
            elif n not in self.dropped:
                self.dropped.append(n)
        return f"[{', '.join(map(str, kept))}]" if kept else ""

    def rewrite(self, text: str) -> str:
        out = MARKER.sub(self._replace, text)
        # A dropped marker leaves a space before the full stop; tidy it.
        return re.sub(r"[ \t]+([.,;:!?])", r"\1", out) if self.dropped else out

    def feed(self, piece: str) -> str:
        """Rewrite what can be rewritten; hold back an unfinished "[..." until it closes."""
        text = self._pending + piece
        cut = text.rfind("[")
        if cut >= 0 and "]" not in text[cut:] and len(text) - cut <= 24:
            self._pending, text = text[cut:], text[:cut]
        else:
            self._pending = ""
        return MARKER.sub(self._replace, text)

    def flush(self) -> str:
        text, self._pending = self._pending, ""
        return MARKER.sub(self._replace, text)


class StreamCleaner:
    """What a stream shows while it arrives: outside links removed and markers renumbered, piece by piece.

    The last, unfinished word is held back until it ends, so a link is judged whole; the numbers are the
    ones the final check gives.
    """

    def __init__(self, hits: Sequence[Hit]) -> None:
        self.hits = hits
        self.numbering = Renumberer(len(hits))
        self._pending = ""  # the unfinished last word
        self._held = ""  # trailing spaces, shown only once what follows them is known

    def _show(self, text: str) -> str:
        dropped = len(self.numbering.dropped)
        text, removed = remove_outside_links(text, self.hits)
        text = self.numbering.feed(text)
        held = self._held
        if removed or len(self.numbering.dropped) > dropped:
            # Something between two spaces, or before a full stop, was taken out: no double space,
            # no space before the stop (as the final check's tidying does).
            if text.lstrip(" \t")[:1] in (".", ",", ";", ":", "!", "?") and text.strip():
                held, text = "", text.lstrip(" \t")
            elif held:
                text = text.lstrip(" \t")
        out = held + text
        shown = out.rstrip(" \t")
        self._held = out[len(shown):]
        return shown

    def feed(self, piece: str) -> str:
        text = self._pending + piece
        cut = max(text.rfind(" "), text.rfind("\n")) + 1
        self._pending, text = text[cut:], text[:cut]
        return self._show(text) if text else ""

    def flush(self) -> str:
        text, self._pending = self._pending, ""
        return self._show(text) + self.numbering.flush()


def remove_outside_links(text: str, hits: Sequence[Hit]) -> tuple[str, list[str]]:
    """Links that none of the sources contain, removed (markdown links keep their words).

    A link inside an instruction sentence of an abstract ("... visit http://...") does not count.
    """
    known = " ".join(f"{usable_text(h)} {h.url}" for h in hits)
    removed: list[str] = []

    def strip_md(match: re.Match) -> str:
        if match.group(2) in known:
            return match.group(0)
        removed.append(match.group(2))
        return match.group(1)

    text = _MD_LINK.sub(strip_md, text)

    def strip(match: re.Match) -> str:
        url = match.group(0).rstrip(".,;:")
        if url in known:
            return match.group(0)
        removed.append(url)
        return match.group(0)[len(url):]

    text = _URL.sub(strip, text)
    if removed:
        text = re.sub(r"\(\s*\)", "", text)
        text = re.sub(r"[ \t]{2,}", " ", text)
        text = re.sub(r"[ \t]+([.,;:!?])", r"\1", text)
    return text, removed


