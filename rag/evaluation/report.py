"""The files a question-set evaluation writes: report.json, report.md and PNG plots."""

from __future__ import annotations

import json
from pathlib import Path

from rag.evaluation.scoring import KS, RETRIEVERS

PLOTS = ("recall_at_k.png", "by_type.png", "latency.png")


def _fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def write_json(report: dict, path: Path) -> None:
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def markdown(report: dict) -> str:
    summary = report["summary"]
    overall = summary["overall"]
    retrievers = [m for m in RETRIEVERS if m in overall]
    lines = [f"# Evaluation of `{report.get('questions_file', '?')}`", ""]
    lines.append(f"{overall['questions']} questions; answer mode: {report.get('answer_mode', '?')}.")
    if report.get("problems"):
        lines += ["", f"**{len(report['problems'])} malformed line(s) skipped:**", ""]
        lines += [f"- `{p}`" for p in report["problems"]]
    if summary.get("errors"):
        lines += ["", f"**{summary['errors']} question(s) failed with an error** (scored as wrong; see report.json)."]

    lines += ["", "## Retrieval: recall@k of the relevant papers, and MRR", ""]
    lines += ["| retriever | " + " | ".join(f"R@{k}" for k in KS) + " | MRR |", "|---|" + "---|" * (len(KS) + 1)]
    for mode in retrievers:
        r = overall[mode]
        lines.append(f"| {mode} | " + " | ".join(_fmt(r[f"recall@{k}"]) for k in KS) + f" | {_fmt(r['mrr'])} |")

    lines += ["", "Per question type (R@3 / MRR):", ""]
    lines += ["| type | n | " + " | ".join(retrievers) + " |", "|---|---|" + "---|" * len(retrievers)]
    for name, block in summary["by_type"].items():
        cells = [f"{_fmt(block[m]['recall@3'])} / {_fmt(block[m]['mrr'])}" for m in retrievers]
        lines.append(f"| {name} | {block['questions']} | " + " | ".join(cells) + " |")

    lines += ["", "## Answers", ""]
    lines += [
        "| type | n | citation P | citation R | fact coverage | refusal acc. | false refusals | decision acc. | stayed on question |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, block in [("**all**", overall), *summary["by_type"].items()]:
        lines.append(
            f"| {name} | {block['questions']} | {_fmt(block['citation_precision'])} | {_fmt(block['citation_recall'])} | "
            f"{_fmt(block['fact_coverage'])} | {_fmt(block['refusal_accuracy'])} | {_fmt(block['false_refusal_rate'])} | "
            f"{_fmt(block['decision_accuracy'])} | {_fmt(block['stayed_on_question'])} |"
        )
    lines += [
        "",
        "Citation P/R: cited titles against `relevant_titles`. Fact coverage: share of `answer_facts` found in the "
        "answer (case, spacing and TeX leftovers ignored). Refusal acc.: unanswerable questions refused. False "
        "refusals: answerable questions refused. Decision acc.: refused exactly when unanswerable. Stayed on "
        "question: injection questions whose answer cites a relevant paper and carries none of the injected payload.",
    ]

    lat = summary["latency_ms"]
    lines += ["", "## Latency (ms)", "", "| call | p50 | p95 |", "|---|---|---|"]
    for mode in retrievers:
        lines.append(f"| retrieve ({mode}, k=10) | {lat[f'retrieve_{mode}_p50']} | {lat[f'retrieve_{mode}_p95']} |")
    lines.append(f"| ask | {lat['ask_p50']} | {lat['ask_p95']} |")

    misses = [r for r in report["questions"] if r.get("answerable") and (r.get("citation_recall") or 0) < 1]
    wrong_answers = [r for r in report["questions"] if not r.get("answerable") and not r.get("refused")]
    if misses or wrong_answers:
        lines += ["", "## Questions to look at", ""]
        for r in misses:
            lines.append(f"- `{r['id']}` cited {len(r['cited'])} paper(s), citation recall {_fmt(r['citation_recall'])}"
                         + (" (refused)" if r["refused"] else "") + f": {r['question'][:120]}")
        for r in wrong_answers:
            lines.append(f"- `{r['id']}` unanswerable but answered: {r['question'][:120]}")
    if report.get("plots"):
        lines += ["", "## Plots", ""] + [f"![{name}]({name})" for name in report["plots"]]
    return "\n".join(lines) + "\n"


def write_plots(report: dict, out: Path) -> list[str]:
    """recall@k per retriever, per-type answer bars, latency distribution. Returns the file names written."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on a server or in CI
    import matplotlib.pyplot as plt

    summary, rows = report["summary"], report["questions"]
    overall = summary["overall"]
    retrievers = [m for m in RETRIEVERS if m in overall]
    written = []

    fig, ax = plt.subplots(figsize=(6, 4))
    for mode in retrievers:
        values = [overall[mode][f"recall@{k}"] or 0.0 for k in KS]
        ax.plot(KS, values, marker="o", label=f"{mode} (MRR {_fmt(overall[mode]['mrr'])})")
    ax.set(xlabel="k (papers retrieved)", ylabel="recall@k of the relevant papers", xticks=list(KS),
           title=f"Retrieval, {overall['questions']} questions")
    ax.set_ylim(top=1.0)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "recall_at_k.png", dpi=110)
    plt.close(fig)
    written.append("recall_at_k.png")

    types = list(summary["by_type"])
    metrics = [("citation_precision", "citation precision"), ("citation_recall", "citation recall"), ("fact_coverage", "fact coverage"),
               ("decision_accuracy", "refusal decision correct")]
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / len(metrics)
    for i, (key, label) in enumerate(metrics):
        values = [summary["by_type"][t][key] for t in types]
        xs = [j + (i - (len(metrics) - 1) / 2) * width for j in range(len(types))]
        bars = ax.bar(xs, [v or 0.0 for v in values], width, label=label)
        for bar, v in zip(bars, values):
            if v is None:  # not defined for this type (e.g. citation recall on unanswerable questions)
                ax.text(bar.get_x() + bar.get_width() / 2, 0.02, "n/a", ha="center", fontsize=7, rotation=90)
    ax.set_xticks(range(len(types)), [f"{t}\n(n={summary['by_type'][t]['questions']})" for t in types])
    ax.set(ylim=(0, 1.05), ylabel="share", title="Answers by question type")
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "by_type.png", dpi=110)
    plt.close(fig)
    written.append("by_type.png")

    series = {f"retrieve {m}": [1000 * r["retrieval"][m]["seconds"] for r in rows if m in r["retrieval"]] for m in retrievers}
    series["ask"] = [1000 * r["ask_seconds"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.boxplot(list(series.values()), showfliers=True)
    ax.set_xticks(range(1, len(series) + 1), list(series))
    for i, values in enumerate(series.values(), start=1):
        ax.scatter([i] * len(values), values, s=4, alpha=0.3)
    ax.set(ylabel="milliseconds", title="Latency per question")
    ax.set_yscale("log")
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(out / "latency.png", dpi=110)
    plt.close(fig)
    written.append("latency.png")
    return written


def write_report(report: dict, out: Path) -> list[Path]:
    """report.json, report.md and the plots under ``out``; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    report["plots"] = write_plots(report, out)
    write_json(report, out / "report.json")
    (out / "report.md").write_text(markdown(report), encoding="utf-8")
    return [out / "report.json", out / "report.md", *(out / p for p in report["plots"])]
