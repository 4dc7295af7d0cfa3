"""The chat's stylesheet and its one script, kept beside the app (as Python strings, so they ship in the wheel)."""

CSS = """
.gradio-container { max-width: 1280px !important; margin: 0 auto; }
#rag-header { display: flex; align-items: baseline; gap: 14px; flex-wrap: wrap; padding: 4px 2px 0; }
#rag-header h1 { font-size: 1.45rem; font-weight: 650; margin: 0; letter-spacing: -0.01em; }
#rag-header .rag-tagline { color: var(--body-text-color-subdued); font-size: 0.95rem; }
#rag-header .rag-stat { margin-left: auto; font-size: 0.85rem; color: var(--body-text-color-subdued);
  background: var(--background-fill-secondary); border-radius: 999px; padding: 3px 12px; }
#rag-header .rag-sync { font-size: 0.85rem; color: var(--body-text-color-subdued); }
#rag-header .rag-sync summary { cursor: pointer; }
#rag-header .rag-sync-new ul { margin: 4px 0 0 18px; padding: 0; }

/* answers */
.rag-answer { line-height: 1.6; }
.rag-answer p { margin: 0 0 0.55em; }
.rag-answer .rag-list { margin: 0 0 0.6em 1.1em; padding: 0; }
.rag-answer .rag-list li { margin-bottom: 0.35em; }
.rag-cites { white-space: nowrap; font-size: 0.8em; vertical-align: 1px; }
.rag-bracket { font-size: 0; }
a.rag-cite, .rag-cite-pending { display: inline-block; min-width: 1.35em; padding: 0 0.3em; margin: 0 1px;
  border-radius: 6px; text-align: center; font-weight: 600; text-decoration: none !important;
  background: var(--color-accent-soft); color: var(--color-accent) !important; }
a.rag-cite:hover { background: var(--color-accent); color: white !important; cursor: pointer; }
.rag-unsupported { text-decoration: underline wavy #d97706; text-underline-offset: 3px; }
.rag-badge { display: inline-block; font-size: 0.72em; font-weight: 600; border-radius: 999px; padding: 0 8px;
  margin-left: 6px; vertical-align: 1px; white-space: nowrap; }
.rag-badge-warn { background: #fef3c7; color: #92400e; }
.rag-refused { display: flex; gap: 10px; align-items: baseline; color: var(--body-text-color-subdued); }
.rag-refused-icon { font-weight: 700; }
.rag-notes { margin: 0.3em 0 0.6em; padding: 0; list-style: none; font-size: 0.88em; color: var(--body-text-color-subdued); }
.rag-notes li::before { content: "ⓘ "; }
.rag-footer { font-size: 0.75em; color: var(--body-text-color-subdued); margin-top: 0.5em; }
.rag-thinking { color: var(--body-text-color-subdued); }
.rag-thinking::after { content: " …"; }
.rag-caret { display: inline-block; width: 0.5em; height: 1em; background: var(--color-accent); opacity: 0.6;
  animation: rag-blink 1s steps(2) infinite; vertical-align: -2px; }
@keyframes rag-blink { to { opacity: 0; } }
.rag-error { display: flex; gap: 10px; align-items: flex-start; color: #991b1b; }
.rag-error-icon { flex: none; width: 1.4em; height: 1.4em; border-radius: 50%; background: #fee2e2; color: #991b1b;
  font-weight: 700; text-align: center; line-height: 1.4em; }
.rag-actions { display: flex; gap: 6px; flex-wrap: wrap; margin-top: 0.5em; }
.rag-action { font-size: 0.78em; border: 1px solid var(--border-color-primary); border-radius: 6px; padding: 1px 9px;
  background: var(--background-fill-secondary); color: var(--body-text-color-subdued); cursor: pointer; }
.rag-action:hover { color: var(--body-text-color); border-color: var(--color-accent); }
.rag-answer pre.rag-export { display: none !important; }  /* what the buttons copy; the chat's styles show <pre hidden> */
.rag-feedback-head { font-weight: 600; font-size: 0.9em; padding: 4px 2px; }
.rag-feedback-status { font-size: 0.88em; color: #15803d; padding: 2px; }

/* sources */
.rag-sources { margin-top: 0.7em; border-top: 1px solid var(--border-color-primary); padding-top: 0.5em; }
.rag-sources-head { font-size: 0.78em; font-weight: 650; text-transform: uppercase; letter-spacing: 0.05em;
  color: var(--body-text-color-subdued); margin-bottom: 0.35em; }
.rag-hint { font-weight: 400; text-transform: none; letter-spacing: 0; margin-left: 8px; }
details.rag-source, details.rag-paper { border: 1px solid var(--border-color-primary); border-radius: 10px;
  margin: 0 0 6px; background: var(--background-fill-primary); transition: box-shadow 0.3s; }
details.rag-source > summary, details.rag-paper > summary { cursor: pointer; padding: 7px 10px; display: flex;
  gap: 8px; align-items: baseline; list-style: none; }
details.rag-source > summary::-webkit-details-marker, details.rag-paper > summary::-webkit-details-marker { display: none; }
details.rag-source > summary::after, details.rag-paper > summary::after { content: "▸"; margin-left: auto; padding-left: 8px;
  color: var(--body-text-color-subdued); }
details[open].rag-source > summary::after, details[open].rag-paper > summary::after { content: "▾"; }
.rag-source-unsupported { border-color: #f59e0b !important; }
.rag-num { flex: none; font-weight: 700; color: var(--color-accent); min-width: 1.2em; }
.rag-source-title, .rag-paper-title { font-weight: 600; }
.rag-score { flex: none; font-size: 0.78em; color: var(--body-text-color-subdued); font-variant-numeric: tabular-nums; }
.rag-source-body, .rag-paper-body { padding: 2px 12px 10px; }
.rag-abstract { font-size: 0.92em; line-height: 1.6; color: var(--body-text-color); }
.rag-source .rag-abstract { max-height: 13.5em; overflow-y: auto; padding-right: 6px; }
mark.rag-highlight { background: #fde68a; color: #1f2937; padding: 1px 2px; border-radius: 3px; }
.rag-meta { margin-top: 6px; font-size: 0.8em; color: var(--body-text-color-subdued); display: flex; flex-wrap: wrap;
  gap: 6px; align-items: center; }
.rag-dot { opacity: 0.5; }
.rag-chip { display: inline-block; font-size: 0.78em; border-radius: 6px; padding: 0 6px; margin-right: 3px;
  background: var(--background-fill-secondary); border: 1px solid var(--border-color-primary); }
.rag-id { font-family: var(--font-mono); }
.rag-date { font-size: 0.8em; color: var(--body-text-color-subdued); flex: none; }
.rag-flash { box-shadow: 0 0 0 3px var(--color-accent-soft), 0 0 0 1px var(--color-accent); }

/* papers and uploads */
.rag-papers-head { font-size: 0.85em; color: var(--body-text-color-subdued); margin: 2px 0 8px; }
.rag-empty { color: var(--body-text-color-subdued); }
.rag-report { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 10px 12px; }
.rag-report-head { font-weight: 650; margin-bottom: 6px; word-break: break-all; }
.rag-counts { display: flex; gap: 6px; flex-wrap: wrap; }
.rag-count { border-radius: 8px; padding: 2px 10px; background: var(--background-fill-secondary); font-size: 0.88em; }
.rag-count-good b { color: #15803d; }
.rag-count-warn b { color: #b45309; }
.rag-report-line { font-size: 0.85em; color: var(--body-text-color-subdued); margin: 8px 0 4px; }
.rag-skipped-head { font-size: 0.8em; font-weight: 650; margin-top: 6px; }
.rag-skipped { font-size: 0.82em; margin: 4px 0 0 1em; padding: 0; }
.rag-skipped code { font-size: 0.95em; }
#rag-chatbot .placeholder-content { text-align: center; }
.rag-welcome { color: var(--body-text-color-subdued); max-width: 34em; margin: 0 auto; }
.rag-welcome b { color: var(--body-text-color); }
"""

# Citation markers are links to their source inside the same answer. Gradio's Markdown would treat a
# click as navigation; this opens the source's <details>, scrolls to it and flashes it instead.
# (The chat's HTML sanitiser drops data-* attributes, so the link's href carries the source's id.)
HEAD = """
<script>
(function () {
  // A long abstract scrolls inside its source box; opening a source brings its first highlight into view.
  function showHighlight(source) {
    var box = source.querySelector(".rag-abstract");
    var mark = box ? box.querySelector("mark.rag-highlight") : null;
    if (mark) box.scrollTop = Math.max(0, mark.offsetTop - box.offsetTop - 24);
  }
  document.addEventListener("toggle", function (event) {
    var source = event.target;
    if (source.classList && source.classList.contains("rag-source") && source.open) showHighlight(source);
  }, true);
  document.addEventListener("click", function (event) {
    var cite = event.target.closest ? event.target.closest("a.rag-cite") : null;
    if (!cite) return;
    var id = (cite.getAttribute("href") || "").slice(1);
    var source = id ? document.getElementById(id) : null;
    if (!source) return;
    event.preventDefault();
    event.stopPropagation();
    source.open = true;
    showHighlight(source);
    source.scrollIntoView({ behavior: "smooth", block: "nearest" });
    source.classList.remove("rag-flash");
    void source.offsetWidth;
    source.classList.add("rag-flash");
    setTimeout(function () { source.classList.remove("rag-flash"); }, 1600);
  }, true);

  // "Copy as Markdown" and "Download .bib": the text is rendered with the answer, in a hidden <pre> beside
  // the buttons, so nothing is asked of the server.
  function exported(button, kind) {
    var box = button.closest(".rag-actions");
    var pre = box ? box.querySelector("pre.rag-export-" + kind) : null;
    return pre ? pre.textContent : "";
  }
  function copyText(value) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(value);
    // Plain http on a network address has no clipboard API; the old way still works there.
    var area = document.createElement("textarea");
    area.value = value;
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    var done = document.execCommand("copy");
    document.body.removeChild(area);
    return done ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }
  function say(button, label) {
    button.ragLabel = button.ragLabel || button.textContent;
    button.textContent = label;
    setTimeout(function () { button.textContent = button.ragLabel; }, 1500);
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button.rag-copy-md, button.rag-download-bib") : null;
    if (!button) return;
    event.preventDefault();
    event.stopPropagation();
    if (button.classList.contains("rag-copy-md")) {
      copyText(exported(button, "md")).then(function () { say(button, "Copied ✓"); }, function () { say(button, "Copy failed"); });
      return;
    }
    var blob = new Blob([exported(button, "bib")], { type: "application/x-bibtex;charset=utf-8" });
    var link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = "references.bib";
    document.body.appendChild(link);
    link.click();
    document.body.removeChild(link);
    setTimeout(function () { URL.revokeObjectURL(link.href); }, 10000);
  }, true);
})();
</script>
"""
