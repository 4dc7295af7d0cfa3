"""Markdown and BibTeX for an answer and the papers it cites: pure functions over plain values.

`rag.types.Answer.to_markdown()` / `.to_bibtex()` hand their citations over as `Reference`s; nothing here
knows a store or a model. Corpus text is untrusted: in Markdown it is escaped so a title holding markup or a
link stays text wherever the file is rendered, and in BibTeX every TeX special character is escaped (math
included), so nothing in a title runs as TeX in the user's document and every field reads back as stored.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from rag.text.arxiv import arxiv_id
from rag.text.markers import MARKER

MAX_AUTHORS_SHOWN = 6  # in Markdown; BibTeX gets them all


@dataclass(frozen=True)
class Reference:
    """One cited paper, as the exports need it."""

    number: int
    paper_id: str
    title: str
    authors: Sequence[str] = ()
    date: str = ""  # ISO, YYYY first
    url: str = ""
    categories: Sequence[str] = ()
    quote: str = ""  # the cited sentences
    supported: bool = True

    @property
    def year(self) -> str:
        return self.date[:4] if self.date[:4].isdigit() else ""

    @property
    def arxiv(self) -> str | None:
        return arxiv_id(self.paper_id) or (arxiv_id(self.url) if "arxiv.org/" in self.url else None)

    @property
    def link(self) -> str:
        """A plain http(s) link to the paper (its own, else its arXiv page), or ""."""
        if _PLAIN_URL.fullmatch(self.url.strip()):
            return self.url.strip()
        return f"https://arxiv.org/abs/{self.arxiv}" if self.arxiv else ""


_PLAIN_URL = re.compile(r"https?://[^\s<>{}\\\"'`]+")


# --- Markdown ------------------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_<>\[\]|])")
_MD_ENTITY = re.compile(r"&(?=#?\w+;)")  # "&amp;" would be read as "&"
_MD_LINE_START = re.compile(r"^(\s*)(#|>|[-+](?=\s)|\d+(?=[.)]\s))")


def _line_start(match: re.Match) -> str:
    """A heading, quote or list marker at the start of a line, escaped: "\\#", "\\-", "1\\."."""
    lead, mark = match.groups()
    return f"{lead}{mark}\\" if mark[0].isdigit() else f"{lead}\\{mark}"


def _inline_escape(text: str) -> str:
    return _MD_ENTITY.sub(r"\\&", _MD_SPECIAL.sub(r"\\\1", text))


def md_escape(text: str) -> str:
    """``text`` as Markdown that shows exactly it: no emphasis, code, HTML, links or headings from its characters."""
    return _MD_LINE_START.sub(_line_start, _inline_escape(text))


def _md_answer_text(text: str) -> str:
    """The answer's own text escaped, but its ``[n]`` markers and its "- " list lines kept as they are."""
    lines = []
    for line in text.replace("\r\n", "\n").split("\n"):
        bullet = re.match(r"^\s*[-*•]\s+", line)
        body = line[bullet.end():] if bullet else line
        pieces, last = [], 0
        for marker in MARKER.finditer(body):
            pieces += [_inline_escape(body[last:marker.start()]), marker.group(0)]
            last = marker.end()
        pieces.append(_inline_escape(body[last:]))
        escaped = _MD_LINE_START.sub(_line_start, "".join(pieces))
        lines.append(("- " if bullet else "") + escaped)
    return "\n".join(lines).strip()


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def authors_line(authors: Sequence[str], most: int = MAX_AUTHORS_SHOWN) -> str:
    names = [_one_line(a) for a in authors if _one_line(a)]
    if len(names) > most:
        return ", ".join(names[:most]) + " et al."
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)


def markdown_reference(ref: Reference) -> str:
    """``n. **Title**. Authors (year). <link>`` and the cited sentences as a quote under it."""
    head = f"{ref.number}. **{md_escape(_one_line(ref.title))}**."
    who = md_escape(authors_line(ref.authors))
    when = f"({ref.year})" if ref.year else ""
    byline = " ".join(part for part in (who, when) if part)
    if byline:
        head += f" {byline}{'' if byline.endswith('.') else '.'}"
    if ref.link:
        head += f" <{ref.link}>"
    if not ref.supported:
        head += " *(a claim citing it is not backed by its text)*"
    quote = _one_line(ref.quote)
    return head + (f"\n   > {md_escape(quote)}" if quote else "")


def markdown_answer(
    question: str, text: str, references: Sequence[Reference], notes: Sequence[str] = (), heading: bool = True
) -> str:
    """The answer (its ``[n]`` markers kept), its notes, then the numbered references with their quotes."""
    parts = [f"## {md_escape(_one_line(question))}"] if heading and question.strip() else []
    parts.append(_md_answer_text(text))
    parts.extend(f"*Note: {md_escape(_one_line(note))}*" for note in notes if note.strip())
    if references:
        parts.append("**References**")
        parts.append("\n".join(markdown_reference(ref) for ref in sorted(references, key=lambda r: r.number)))
    return "\n\n".join(parts) + "\n"


def markdown_conversation(answers: Sequence[str], title: str = "Conversation") -> str:
    """Answers already written by `markdown_answer` (each under its question), in order, as one document."""
    return f"# {md_escape(title)}\n\n" + "\n---\n\n".join(answers)


# --- BibTeX --------------------------------------------------------------------------------------------

_TEX_SPECIAL = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "%": r"\%", "#": r"\#", "_": r"\_",
    "^": r"\textasciicircum{}", "~": r"\textasciitilde{}", "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}",
}
_TEX_SPECIAL_RE = re.compile("|".join(re.escape(ch) for ch in _TEX_SPECIAL))
_KEY_SKIP = {"a", "an", "the", "on", "of", "in", "for", "and", "to", "towards", "toward", "with", "via", "from", "is", "are", "do", "does"}


def tex_escape(text: str) -> str:
    """``text`` as TeX that prints exactly it (whitespace collapsed; non-ASCII kept as UTF-8)."""
    return _TEX_SPECIAL_RE.sub(lambda m: _TEX_SPECIAL[m.group(0)], _one_line(text))


def _ascii_word(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text)
    return re.sub(r"[^a-z0-9]", "", "".join(ch for ch in folded if not unicodedata.combining(ch)).lower())


def _last_name(author: str) -> str:
    author = _one_line(author)
    if "," in author:  # "Last, First"
        return author.split(",", 1)[0]
    return author.split(" ")[-1] if author else ""


def bibtex_key(ref: Reference) -> str:
    """first author's last name + year + first significant title word, ASCII: ``yu2023robustifying``."""
    author = _ascii_word(_last_name(ref.authors[0])) if ref.authors else ""
    words = [_ascii_word(w) for w in re.findall(r"[^\W_]+", ref.title)]
    word = next((w for w in words if w and w not in _KEY_SKIP), next((w for w in words if w), ""))
    return (author + ref.year + word) or "paper"


def bibtex_keys(references: Sequence[Reference]) -> dict[str, str]:
    """paper id -> key, unique within the set. A paper's key depends on itself alone unless another paper of
    the set shares it: then each of them gets a letter (a, b, ...) in the order of their paper ids, so the
    same papers always get the same keys."""
    by_base: dict[str, list[str]] = {}
    for ref in references:
        ids = by_base.setdefault(bibtex_key(ref), [])
        if ref.paper_id not in ids:
            ids.append(ref.paper_id)
    keys: dict[str, str] = {}
    taken = {base for base, ids in by_base.items() if len(ids) == 1}
    for base, ids in by_base.items():
        if len(ids) == 1:
            keys[ids[0]] = base
            continue
        suffixes = (chr(ord("a") + i) if i < 26 else str(i) for i in range(10_000))
        for paper_id in sorted(ids):
            key = base + next(suffixes)
            while key in taken:  # "smith2023a" may already be another paper's own key
                key = base + next(suffixes)
            taken.add(key)
            keys[paper_id] = key
    return keys


def _bib_author(name: str) -> str:
    name = tex_escape(name)
    # " and " separates authors in BibTeX: a name holding it ("Fish and Game Team") is kept whole in braces.
    return f"{{{name}}}" if re.search(r"\band\b", name, re.IGNORECASE) else name


def bibtex_entry(ref: Reference, key: str) -> str:
    """One ``@misc`` entry; an arXiv paper carries ``eprint``, ``archivePrefix`` and ``primaryClass``."""
    fields = [("title", "{" + tex_escape(ref.title) + "}")]  # double braces: the title's capitals stay as written
    authors = [a for a in ref.authors if _one_line(a)]
    if authors:
        fields.append(("author", " and ".join(_bib_author(a) for a in authors)))
    if ref.year:
        fields.append(("year", ref.year))
    if ref.arxiv:
        fields += [("eprint", ref.arxiv), ("archivePrefix", "arXiv")]
        if ref.categories:
            fields.append(("primaryClass", tex_escape(ref.categories[0])))
    if ref.link:
        fields.append(("url", ref.link))  # a plain URL: no braces, backslashes or spaces can be in it
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@misc{{{key},\n{body}\n}}\n"


def bibtex(references: Sequence[Reference]) -> str:
    """One entry per cited paper, in citation order, keys unique; "" when nothing is cited."""
    seen: set[str] = set()
    unique = [r for r in sorted(references, key=lambda r: r.number) if not (r.paper_id in seen or seen.add(r.paper_id))]
    keys = bibtex_keys(unique)
    return "\n".join(bibtex_entry(ref, keys[ref.paper_id]) for ref in unique)
