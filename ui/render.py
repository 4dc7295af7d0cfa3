"""All the app's HTML: the header, the chat, the sources panels, the papers list and the ingest report.

Every piece of corpus or user text (titles, abstracts, authors, questions, file names, error messages)
goes through `text()`, which escapes it, so markup or script inside a corpus file is shown, never run.
Only the tags written here are markup. The chat renders Markdown around HTML blocks; the HTML built here
has no blank line in it, so Markdown never reaches inside and `*`, `_` or `$` in an abstract stay as
typed.
"""

from __future__ import annotations

import datetime
import html
import re
from collections.abc import Iterable, Sequence
from urllib.parse import urlparse

from rag.text.markers import MARKER, marker_numbers
from rag.types import Answer, Citation, IngestReport, Paper


def text(value: object) -> str:
    """Any text as HTML that shows exactly that text, line breaks kept."""
    return html.escape(str(value), quote=True).replace("\r\n", "\n").replace("\n", "<br>")


def safe_url(url: str) -> str:
    """The URL if it is a plain http(s) link, else "" (no javascript:, data: or relative links)."""
    url = (url or "").strip()
    parsed = urlparse(url)
    return url if parsed.scheme in ("http", "https") and parsed.netloc else ""


def link(url: str, label: str) -> str:
    url = safe_url(url)
    if not url:
        return ""
    return f'<a class="rag-link" href="{html.escape(url, quote=True)}" target="_blank" rel="noopener noreferrer">{text(label)} ↗</a>'


def source_id(turn: str, number: int) -> str:
    return f"rag-{turn}-src-{number}"


# --- the page -----------------------------------------------------------------------------------------------


def header(count: int, synced=None) -> str:
    """The page's title line, with how many papers are indexed and, when the feeds sync (``synced``, a
    `rag.feeds.SyncStatus`), when they last did and what came in."""
    return (
        '<div id="rag-header"><h1>Abstracts assistant</h1>'
        '<span class="rag-tagline">Answers quoted from the abstracts, every claim cited, or a plain “not in the abstracts”.</span>'
        f'<span class="rag-stat">{count:,} papers indexed</span>{sync_status(synced)}</div>'
    )


def _ago(seconds: float) -> str:
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            return _plural(int(seconds // size), unit) + " ago"
    return "just now"


def sync_status(synced, now: datetime.datetime | None = None) -> str:
    """The feeds' status line: when they last synced, how many papers that added, and the newest titles."""
    if synced is None or not synced.last_run:
        return ""
    try:
        when = datetime.datetime.fromisoformat(synced.last_run)
        now = now or datetime.datetime.now(datetime.timezone.utc)
        ago = _ago(max(0.0, (now - when).total_seconds()))
    except (TypeError, ValueError):
        ago = "at " + synced.last_run
    line = f"Feeds synced {ago}: {_plural(synced.last_added, 'new paper')}"
    if synced.last_failed_days:
        line += f", {_plural(synced.last_failed_days, 'day')} to retry"
    title = f"Last sync finished {synced.last_run} (UTC)"
    if not synced.recent_new:
        return f'<span class="rag-sync" title="{text(title)}">{text(line)}</span>'
    items = "".join(f"<li>{text(name)}</li>" for _, name in synced.recent_new[:10])
    return (
        f'<details class="rag-sync" title="{text(title)}"><summary>{text(line)}</summary>'
        f'<div class="rag-sync-new">Newest papers from the feeds:<ul>{items}</ul></div></details>'
    )


def welcome() -> str:
    """What the empty chat shows."""
    return (
        '<div class="rag-welcome"><b>Ask about the indexed abstracts.</b><br>'
        "Answers quote the abstracts, and every claim links to its source; when the abstracts don't say, "
        "the assistant says so.</div>"
    )


# --- answers ----------------------------------------------------------------------------------------------


def _markers(escaped: str, turn: str | None, numbers: set[int]) -> str:
    """Citation markers as links to their sources (``turn`` None: while streaming, styled only)."""

    def one(number: str) -> str:
        n = int(number)
        if turn is None or n not in numbers:
            return f'<span class="rag-cite-pending">{n}</span>'
        return f'<a class="rag-cite" href="#{source_id(turn, n)}" title="Show source {n}">{n}</a>'

    def replace(match: re.Match) -> str:
        # The brackets stay in the text (copying an answer keeps its markers) but are drawn as pills.
        inner = "".join(one(str(n)) for n in marker_numbers(match.group(1)))
        return f'<span class="rag-cites"><span class="rag-bracket">[</span>{inner}<span class="rag-bracket">]</span></span>'

    return MARKER.sub(replace, escaped)


def _segments(value: str, flagged: Iterable[str]) -> list[tuple[str, bool]]:
    """``value`` cut into (piece, flagged?) where the flagged sentences occur."""
    mask = [False] * len(value)
    for sentence in flagged:
        sentence = sentence.strip()
        if not sentence:
            continue
        start = value.find(sentence)
        while start >= 0:
            for i in range(start, start + len(sentence)):
                mask[i] = True
            start = value.find(sentence, start + len(sentence))
    pieces: list[tuple[str, bool]] = []
    begin = 0
    for i in range(1, len(value) + 1):
        if i == len(value) or mask[i] != mask[begin]:
            pieces.append((value[begin:i], mask[begin]))
            begin = i
    return pieces


def _body(value: str, turn: str | None, numbers: set[int], unsupported: Sequence[str] = ()) -> str:
    """The answer's text: paragraphs, "- " lines as a list, markers linked, unsupported claims marked."""
    blocks: list[str] = []
    items: list[str] = []

    def inline(line: str) -> str:
        out = []
        for piece, flagged in _segments(line, unsupported):
            rendered = _markers(html.escape(piece, quote=True), turn, numbers)
            if flagged:
                rendered = (
                    f'<span class="rag-unsupported" title="The cited abstract does not back this claim">{rendered}'
                    '<span class="rag-badge rag-badge-warn">not supported by its source</span></span>'
                )
            out.append(rendered)
        return "".join(out)

    def flush() -> None:
        if items:
            blocks.append('<ul class="rag-list">' + "".join(f"<li>{i}</li>" for i in items) + "</ul>")
            items.clear()

    for line in value.replace("\r\n", "\n").split("\n"):
        stripped = line.strip()
        if stripped.startswith(("- ", "* ", "• ")):
            items.append(inline(stripped[2:]))
            continue
        flush()
        if stripped:
            blocks.append(f'<p>{inline(stripped)}</p>')
    flush()
    return "".join(blocks)


def highlight(abstract: str, spans: Sequence[tuple[int, int]], cited: str = "") -> str:
    """The abstract as text with the cited spans marked."""
    cuts = sorted((max(0, s), min(len(abstract), e)) for s, e in spans if e > s)
    if not cuts and cited and cited in abstract:
        start = abstract.index(cited)
        cuts = [(start, start + len(cited))]
    merged: list[list[int]] = []
    for start, end in cuts:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        elif start < end:
            merged.append([start, end])
    out, position = [], 0
    for start, end in merged:
        out.append(text(abstract[position:start]))
        out.append(f'<mark class="rag-highlight">{text(abstract[start:end])}</mark>')
        position = end
    out.append(text(abstract[position:]))
    return "".join(out)


def _paper_meta(paper: Paper | Citation) -> str:
    """Authors, date, categories, link and id of a paper (or of the paper a citation carries)."""
    parts = []
    if paper.authors:
        names = ", ".join(paper.authors[:6]) + (f" and {len(paper.authors) - 6} more" if len(paper.authors) > 6 else "")
        parts.append(f'<span class="rag-authors">{text(names)}</span>')
    if paper.date:
        parts.append(f"<span>{text(paper.date)}</span>")
    if paper.categories:
        parts.append("".join(f'<span class="rag-chip">{text(c)}</span>' for c in paper.categories[:6]))
    if safe_url(paper.url):
        parts.append(link(paper.url, urlparse(paper.url).netloc.removeprefix("www.")))
    if paper.paper_id:
        parts.append(f'<span class="rag-id">{text(paper.paper_id)}</span>')
    return '<div class="rag-meta">' + '<span class="rag-dot">·</span>'.join(parts) + "</div>"


def source(citation: Citation, turn: str) -> str:
    """One citation: title and score (always visible), the abstract with the cited sentences marked."""
    flag = "" if citation.supported else '<span class="rag-badge rag-badge-warn">not supported</span>'
    abstract = (
        highlight(citation.abstract, citation.spans, citation.text)
        if citation.abstract
        else f'<mark class="rag-highlight">{text(citation.text)}</mark>'
    )
    return (
        f'<details class="rag-source{"" if citation.supported else " rag-source-unsupported"}" id="{source_id(turn, citation.number)}">'
        f'<summary><span class="rag-num">{citation.number}</span>'
        f'<span class="rag-source-title">{text(citation.title)}</span>'
        f'<span class="rag-score" title="Retrieval score of this paper for the question (0 to 1)">score {citation.score:.2f}</span>{flag}</summary>'
        f'<div class="rag-source-body"><div class="rag-abstract">{abstract}</div>{_paper_meta(citation)}</div>'
        "</details>"
    )


def answer(result: Answer, turn: str, llm_model: str = "") -> str:
    """A finished answer: text with linked markers, notes, and its sources panel."""
    numbers = {c.number for c in result.citations}
    parts = ['<div class="rag-answer">']
    if result.refused:
        parts.append(f'<div class="rag-refused"><span class="rag-refused-icon">∅</span>{_body(result.text, None, set())}</div>')
    else:
        parts.append(f'<div class="rag-text">{_body(result.text, turn, numbers, result.unsupported)}</div>')
    if result.notes:
        parts.append('<ul class="rag-notes">' + "".join(f"<li>{text(n)}</li>" for n in result.notes) + "</ul>")
    if result.citations:
        count = len(result.citations)
        parts.append(
            f'<div class="rag-sources"><div class="rag-sources-head">{count} source{"s" if count != 1 else ""}'
            '<span class="rag-hint">open one to see the cited sentences in its abstract</span></div>'
            + "".join(source(c, turn) for c in result.citations)
            + "</div>"
        )
    how = {
        "extractive": "quoted from the abstracts",
        "llm": f"written by {llm_model or 'the LLM'} from the abstracts",
        "fallback": "quoted from the abstracts (the LLM could not be used)",
    }.get(result.mode, result.mode)
    if not result.refused:
        parts.append(f'<div class="rag-footer">{text(how)}</div>')
    parts.append(answer_actions(result))
    parts.append("</div>")
    return "".join(parts)


# --- exports and feedback ---------------------------------------------------------------------------------


def _export(kind: str, content: str) -> str:
    """Text a button of the answer copies or downloads, kept hidden beside it (escaped, like all text here).
    Its newlines are character references, so the chat's Markdown never meets a blank line in the HTML."""
    body = html.escape(content, quote=True).replace("\r", "").replace("\n", "&#10;")
    return f'<pre class="rag-export rag-export-{kind}" hidden>{body}</pre>'


def answer_actions(result: Answer) -> str:
    """"Copy as Markdown" and, when papers are cited, "Download .bib" (`ui.assets.HEAD` does the copying)."""
    parts = [
        '<div class="rag-actions"><button type="button" class="rag-action rag-copy-md" '
        'title="Copy this answer and its references as Markdown">Copy as Markdown</button>'
    ]
    if result.citations:
        parts.append(
            '<button type="button" class="rag-action rag-download-bib" '
            'title="Download a BibTeX entry for each cited paper">Download .bib</button>'
        )
    parts.append(_export("md", result.to_markdown()))
    if result.citations:
        parts.append(_export("bib", result.to_bibtex()))
    parts.append("</div>")
    return "".join(parts)


def feedback_heading(question: str) -> str:
    """Above the thumbs-down form: which answer it is about."""
    return f'<div class="rag-feedback-head">What was wrong with the answer to “{text(question)}”? All optional.</div>'


def feedback_status(message: str, ok: bool = True) -> str:
    if not message:
        return ""
    return f'<div class="rag-feedback-status">{text(message)}</div>' if ok else error(message)


def partial(so_far: str) -> str:
    """An answer while it streams in."""
    body = _body(so_far, None, set()) if so_far.strip() else '<p class="rag-thinking">Searching the abstracts</p>'
    return f'<div class="rag-answer rag-streaming"><div class="rag-text">{body}</div><span class="rag-caret"></span></div>'


def error(message: str) -> str:
    return f'<div class="rag-error"><span class="rag-error-icon">!</span><span>{text(message)}</span></div>'


def user(question: str) -> str:
    return f'<div class="rag-user">{text(question)}</div>'


# --- papers -----------------------------------------------------------------------------------------------


def paper_card(paper: Paper) -> str:
    title = text(paper.title)
    extra = " ".join(f'<span class="rag-chip">{text(c)}</span>' for c in paper.categories[:3])
    date = f'<span class="rag-date">{text(paper.date)}</span>' if paper.date else ""
    return (
        f'<details class="rag-paper"><summary><span class="rag-paper-title">{title}</span>{date}{extra}</summary>'
        f'<div class="rag-paper-body"><div class="rag-abstract">{text(paper.abstract)}</div>{_paper_meta(paper)}</div></details>'
    )


def papers(found: Sequence[Paper], heading: str) -> str:
    if not found:
        return f'<div class="rag-papers"><div class="rag-papers-head">{text(heading)}</div><p class="rag-empty">No papers match.</p></div>'
    return (
        f'<div class="rag-papers"><div class="rag-papers-head">{text(heading)}</div>'
        + "".join(paper_card(p) for p in found)
        + "</div>"
    )


def ingest_report(report: IngestReport, shown_name: str, index_total: int, limit: int = 50) -> str:
    """What an upload did, with every skipped record as ``name:line: reason``."""
    counts = [
        ("added", report.added, "good"),
        ("updated", report.updated, "good"),
        ("unchanged", report.unchanged, ""),
        ("skipped", len(report.skipped), "warn" if report.skipped else ""),
    ]
    chips = "".join(f'<span class="rag-count rag-count-{kind}"><b>{n:,}</b> {label}</span>' for label, n, kind in counts)
    parts = [
        '<div class="rag-report">',
        f'<div class="rag-report-head">{text(shown_name)}</div><div class="rag-counts">{chips}</div>',
        f'<p class="rag-report-line">{_plural(report.chunks, "sentence")} embedded in {report.seconds:.1f} s; '
        f'{_plural(index_total, "paper")} now indexed.</p>',
    ]
    if report.errors:
        parts.append('<ul class="rag-skipped">' + "".join(f"<li>{text(e)}</li>" for e in report.errors) + "</ul>")
    if report.skipped:
        rows = "".join(f"<li><code>{text(s.location)}</code> {text(s.reason)}</li>" for s in report.skipped[:limit])
        more = f"<li>… and {len(report.skipped) - limit:,} more</li>" if len(report.skipped) > limit else ""
        parts.append(f'<div class="rag-skipped-head">Skipped records</div><ul class="rag-skipped">{rows}{more}</ul>')
    parts.append("</div>")
    return "".join(parts)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def upload_error(message: str) -> str:
    return f'<div class="rag-report rag-report-error">{error(message)}</div>'
