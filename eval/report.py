"""Writes a run's reports: summary.json, report.md (the summary) and report.html (self-contained:
tables, matplotlib plots as base64 PNG, every question and answer text escaped). The per-question
results.jsonl is written by the runner as questions finish."""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from rag.eval.configs import BASELINE
from rag.eval.data import TYPES
from rag.eval.matching import MIN_OVERLAP
from rag.eval.records import EvalRecord
from rag.eval.summary import ConfigResult, RunSummary

Num = float | int | bool | None


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    higher_better: bool | None = True  # None: no better direction (nothing in bold)
    scale: str = "rate"  # rate (0..1, 3 decimals) | ms | count


ROWS: tuple[tuple[str, tuple[Row, ...]], ...] = (
    (
        "Retrieval (answerable questions)",
        (
            Row("hit@1", "hit@1"),
            Row("hit@4", "hit@4 (follow-ups: of the standalone query)"),
            Row("hit@5", "hit@5"),
            Row("hit@given", "gold among the sources given"),
            Row("number_in_sources", "numeric: the number is in a given source's chunk"),
            Row("recall@5", "gold recall@5"),
            Row("recall@10", "gold recall@10"),
            Row("mrr", "MRR@10"),
            Row("ndcg@10", "nDCG@10"),
        ),
    ),
    (
        "Citations (answered questions)",
        (
            Row("citation_valid", "valid (every [n] was a given source)"),
            Row("citation_precision", "precision vs gold (lookup, numeric)"),
            Row("cites_gold", "cites a gold paper (lookup, numeric)"),
            Row("gold_coverage", "gold coverage (synthesis)"),
            Row("supported_share", "sentences supported by the checker"),
        ),
    ),
    (
        "Answers",
        (
            Row("point_recall", "answer-point recall (answerable)"),
            Row("numeric_em", "numeric exact match"),
            Row("evidence_answer", "answered with the evidence sentences (share)", None),
        ),
    ),
    (
        "Abstention (unanswerable = positive)",
        (
            Row("abstain_precision", "precision"),
            Row("abstain_recall", "recall"),
            Row("false_abstention", "false-abstention rate (answerable)", higher_better=False),
        ),
    ),
    (
        "Cost",
        (
            Row("ttft_ms_p50", "TTFT p50 (ms)", False, "ms"),
            Row("ttft_ms_p95", "TTFT p95 (ms)", False, "ms"),
            Row("total_ms_p50", "total p50 (ms)", False, "ms"),
            Row("total_ms_p95", "total p95 (ms)", False, "ms"),
            Row("prompt_tokens_mean", "prompt tokens (mean)", False, "count"),
            Row("uncached_tokens_mean", "uncached prompt tokens (mean)", False, "count"),
            Row("gen_tokens_per_s_p50", "generation tokens/s p50", True, "count"),
            Row("retrieve_ms_p50", "retrieval p50 (ms)", False, "ms"),
            Row("evidence_ms_p50", "evidence p50 (ms)", False, "ms"),
            Row("evidence_ms_p95", "evidence p95 (ms)", False, "ms"),
        ),
    ),
)
TYPE_ROWS = ("hit@5", "mrr", "recall@10", "point_recall", "supported_share", "abstained")


# -- numbers and the comparison -----------------------------------------------------------------


def fmt(value: Num, scale: str = "rate") -> str:
    if value is None:
        return "–"
    if scale == "ms":
        return f"{float(value):,.0f}"
    return f"{float(value):.1f}" if scale == "count" else f"{float(value):.3f}"


def best(values: Sequence[Num], higher_better: bool | None) -> set[int]:
    """Indexes holding the best value of a row; none when all are equal or only one is set."""
    xs = [(i, float(v)) for i, v in enumerate(values) if v is not None]
    if higher_better is None or len(xs) < 2 or len({v for _, v in xs}) == 1:
        return set()
    top = (max if higher_better else min)(v for _, v in xs)
    return {i for i, v in xs if v == top}


def delta(value: Num, base: Num, scale: str) -> str:
    if value is None or base is None or value == base:
        return ""
    d = float(value) - float(base)
    return f"{d:+,.0f}" if scale == "ms" else f"{d:+.1f}" if scale == "count" else f"{d:+.3f}"


@dataclass(frozen=True)
class Cell:
    text: str
    bold: bool
    delta: str


def row_cells(row: Row, values: Sequence[Num], base: Num) -> list[Cell]:
    top = best(values, row.higher_better)
    return [
        Cell(fmt(v, row.scale), i in top, delta(v, base, row.scale)) for i, v in enumerate(values)
    ]


def table(
    s: RunSummary | Sequence[ConfigResult], group: str, rows: Sequence[Row]
) -> list[tuple[Row, list[Cell]]]:
    """Rows with at least one value, each with one cell per config (deltas vs the baseline)."""
    configs = s.configs if isinstance(s, RunSummary) else list(s)
    base = next((c for c in configs if c.name == BASELINE), None)
    out = []
    for row in rows:
        values = [c.groups.get(group, {}).get(row.key) for c in configs]
        if any(v is not None for v in values):
            b = base.groups.get(group, {}).get(row.key) if base else None
            out.append((row, row_cells(row, values, b)))
    return out


def type_rows(s: RunSummary) -> list[tuple[str, Row, list[Cell]]]:
    found = {r.key: r for _, rows in ROWS for r in rows}
    found["abstained"] = Row("abstained", "abstained")
    out: list[tuple[str, Row, list[Cell]]] = []
    for qtype in TYPES:
        for row, cells in table(s, qtype, [found[k] for k in TYPE_ROWS]):
            out.append((qtype, row, cells))
    return out


# -- Markdown --------------------------------------------------------------------------------


def md_cell(c: Cell) -> str:
    text = f"**{c.text}**" if c.bold else c.text
    return f"{text} ({c.delta})" if c.delta else text


def md_header(s: RunSummary) -> list[str]:
    limit = f" (--limit {s.limit}: taken round-robin by type)" if s.limit else ""
    return [
        f"# Evaluation: {s.mode} run, {s.n_questions} questions{limit}",
        "",
        f"- date: {s.created}; commit: `{s.commit or 'unknown'}`; model: `{s.model or '(none: retrieval only)'}`",
        f"- questions: `{s.questions_file}`",
        "- configs: "
        + "; ".join(
            f"`{c.name}` ({c.changes}, fingerprint `{c.fingerprint}`, n={c.n})" for c in s.configs
        ),
        f"- bold = best of the row; (±x) = difference from `{BASELINE}`",
        "",
    ]


def md_comparison(s: RunSummary | Sequence[ConfigResult], level: str = "##") -> list[str]:
    configs = s.configs if isinstance(s, RunSummary) else list(s)
    head = "| metric | " + " | ".join(c.name for c in configs) + " |"
    rule = "|---|" + "---:|" * len(configs)
    lines: list[str] = []
    for title, rows in ROWS:
        body = [
            f"| {r.label} | " + " | ".join(md_cell(c) for c in cells) + " |"
            for r, cells in table(configs, "all", rows)
        ]
        if body:
            lines += [f"{level} {title}", "", head, rule, *body, ""]
    return lines


def md_sets(s: RunSummary) -> list[str]:
    """Each question set on its own, configs side by side (so each floor means something)."""
    lines: list[str] = []
    for qs in s.sets:
        lines += [f"## Question set `{qs.name}` ({qs.n} questions)", ""]
        lines += md_comparison(qs.configs, "###")
    return lines


def md_types(s: RunSummary) -> list[str]:
    head = "| type | metric | " + " | ".join(c.name for c in s.configs) + " |"
    rule = "|---|---|" + "---:|" * len(s.configs)
    body = [
        f"| {t} | {r.key} | " + " | ".join(md_cell(c) for c in cells) + " |"
        for t, r, cells in type_rows(s)
    ]
    counts = (
        ", ".join(f"{t}={s.configs[0].groups.get(t, {}).get('n', 0)}" for t in TYPES)
        if s.configs
        else ""
    )
    return ["## By question type", "", f"Questions: {counts}.", "", head, rule, *body, ""]


def md_calibration(s: RunSummary) -> list[str]:
    lines = ["## Abstention (one rule for the engine and the eval)", ""]
    for c in s.configs:
        cal = c.calibration
        lines.append(f"- `{c.name}` (threshold on {cal.score}: {cal.configured:.2f}): {cal.reason}")
    return [*lines, ""]


def md_matcher(s: RunSummary) -> list[str]:
    if not s.matcher:
        return []
    lines = [
        "## Answer-point matcher vs hand labels",
        "",
        "Numbers normalised and all required; then at least `min_overlap` of the point's content "
        "units (stemmed tokens and numbers) must appear in the answer. "
        f"Used: min_overlap = {MIN_OVERLAP}.",
        "",
        "| min_overlap | pairs | agreement | precision | recall |",
        "|---:|---:|---:|---:|---:|",
    ]
    for m in s.matcher:
        mark = " ←" if m["min_overlap"] == MIN_OVERLAP else ""
        lines.append(
            f"| {m['min_overlap']}{mark} | {m['n']} | {fmt(m['agreement'])} | "
            f"{fmt(m['precision'])} | {fmt(m['recall'])} |"
        )
    return [*lines, ""]


def md_floors(s: RunSummary) -> list[str]:
    if not s.floors_checked:
        return [
            "Floors: not checked (no floors file or --min-* flag, or a partial question set).",
            "",
        ]
    if not s.floor_failures:
        return ["Floors: all met.", ""]
    return ["Floors: **below**", "", *[f"- {f}" for f in s.floor_failures], ""]


def markdown(s: RunSummary) -> str:
    parts = [
        md_header(s),
        ["# All question sets together", ""] if s.sets else [],
        md_comparison(s),
        md_sets(s),
        md_types(s),
        md_calibration(s),
        md_matcher(s),
        md_floors(s),
    ]
    files = "Files: `results.jsonl` (every answer and its metrics), `summary.json`, `report.html`."
    return "\n".join([line for p in parts for line in p] + [files, ""])


# -- plots -----------------------------------------------------------------------------------


def png(draw: Callable[[Any], None], size: tuple[float, float] = (6.4, 4.0)) -> str:
    """A figure drawn by `draw(ax)`, as a base64 PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size, dpi=100)
    try:
        draw(ax)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    finally:
        plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _mark(ax: Any, cal: Any, key: str, style: str, color: Any) -> None:
    row = getattr(cal, key)
    if row and row["answered_accuracy"] is not None:
        ax.plot(row["coverage"], row["answered_accuracy"], style, color=color, markersize=10)


def style(i: int) -> dict[str, Any]:
    """The same colour for a config in every plot; line styles tell overlapping curves apart."""
    return {"color": f"C{i}", "linestyle": ("-", "--", ":", "-.")[i % 4]}


def draw_calibration(configs: Sequence[ConfigResult]) -> Callable[[Any], None]:
    def draw(ax: Any) -> None:
        for i, c in enumerate(configs):
            rows = [r for r in c.calibration.rows if r["answered_accuracy"] is not None]
            if not c.calibration.applies or not rows:
                continue
            xs, ys = [r["coverage"] for r in rows], [r["answered_accuracy"] for r in rows]
            ax.plot(xs, ys, label=c.name, **style(i))
            _mark(ax, c.calibration, "at_configured", "o", f"C{i}")
            _mark(ax, c.calibration, "chosen", "*", f"C{i}")
        ax.set(xlabel="coverage (share of questions answered)", ylabel="answered accuracy")
        ax.set_title("Threshold sweep: ● configured, ★ chosen", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)

    return draw


def draw_overall(configs: Sequence[ConfigResult]) -> Callable[[Any], None]:
    def draw(ax: Any) -> None:
        for i, c in enumerate(configs):
            rows = c.calibration.rows
            if rows:
                xs, ys = [r["threshold"] for r in rows], [r["overall"] for r in rows]
                ax.plot(xs, ys, label=c.name, **style(i))
        if configs:
            ax.axvline(
                configs[0].calibration.configured, color="grey", linestyle="--", label="configured"
            )
        score = configs[0].calibration.score if configs else "best dense similarity"
        ax.set(xlabel=f"threshold on {score}", ylabel="share correct (incl. abstentions)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)

    return draw


def draw_abstention(configs: Sequence[ConfigResult]) -> Callable[[Any], None]:
    """Abstention precision and recall against the rule's threshold: this run (in-sample) and
    the fitted rule's 5-fold out-of-fold curve."""

    def draw(ax: Any) -> None:
        for i, c in enumerate(configs):
            rows = c.calibration.rows
            xs = [r["threshold"] for r in rows]
            for key, mark in (("abstain_precision", "-"), ("abstain_recall", "--")):
                ys = [r.get(key) for r in rows]
                if any(y is not None for y in ys):
                    ax.plot(xs, ys, mark, color=f"C{i}", label=f"{c.name}: {key[8:]}")
            ax.axvline(c.calibration.configured, color=f"C{i}", linestyle=":", alpha=0.6)
        cv = next((c.calibration.cv_curve for c in configs if c.calibration.cv_curve), [])
        if cv:
            xs = [r["threshold"] for r in cv]
            ax.plot(
                xs,
                [r.get("abstain_precision") for r in cv],
                "-",
                color="grey",
                label="5-fold CV: precision",
            )
            ax.plot(
                xs,
                [r.get("abstain_recall") for r in cv],
                "--",
                color="grey",
                label="5-fold CV: recall",
            )
        ax.set(xlabel="threshold on p(answerable)", ylabel="abstention precision / recall")
        ax.set_ylim(0, 1.05)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)

    return draw


def draw_similarity(records: Sequence[EvalRecord], threshold: float) -> Callable[[Any], None]:
    sims: dict[str, list[float]] = {"answerable": [], "unanswerable": []}
    for r in records:
        if r.retrieval.best_similarity is not None:
            kind = "unanswerable" if r.type == "unanswerable" else "answerable"
            sims[kind].append(r.retrieval.best_similarity)

    def draw(ax: Any) -> None:
        ax.hist(list(sims.values()), bins=20, label=list(sims))
        ax.axvline(threshold, color="grey", linestyle="--", label=f"configured {threshold:.2f}")
        ax.set(xlabel="best dense similarity of retrieval", ylabel="questions")
        ax.legend(fontsize=8)

    return draw


def draw_bars(s: RunSummary) -> Callable[[Any], None]:
    keys = ("hit@5", "mrr", "ndcg@10", "point_recall", "supported_share", "abstain_recall")

    def draw(ax: Any) -> None:
        shown = [k for k in keys if any(c.groups["all"].get(k) is not None for c in s.configs)]
        width = 0.8 / max(1, len(s.configs))
        for i, c in enumerate(s.configs):
            vals = [float(c.groups["all"].get(k) or 0.0) for k in shown]
            ax.bar([x + i * width for x in range(len(shown))], vals, width, label=c.name)
        ax.set_xticks([x + 0.4 - width / 2 for x in range(len(shown))], shown, fontsize=8)
        ax.set_ylim(0, 1.05)
        ax.legend(fontsize=8)

    return draw


def calibration_plots(s: RunSummary, records: Sequence[EvalRecord]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    logistic = [c for c in s.configs if c.calibration.applies and c.calibration.cv_curve]
    if logistic:
        title = "Abstention precision and recall against the threshold (the one rule)"
        out.append((title, png(draw_abstention(logistic))))
    calibrated = [c for c in s.configs if c.calibration.applies]
    if calibrated:
        first = [r for r in records if r.config == calibrated[0].name]
        out += [
            ("Answered accuracy against coverage", png(draw_calibration(s.configs))),
            ("Score against threshold", png(draw_overall(s.configs))),
            (
                f"Best similarity by question kind ({calibrated[0].name})",
                png(draw_similarity(first, calibrated[0].calibration.configured)),
            ),
        ]
    return out


# -- HTML ------------------------------------------------------------------------------------

CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 7px;
text-align:right;vertical-align:top}th{text-align:center}td:first-child,td.l{text-align:left}
.d{color:#777;font-size:85%}.q td{font-size:90%}details{margin:.2em 0}img{max-width:100%}"""


def html_cell(c: Cell) -> str:
    text = f"<b>{escape(c.text)}</b>" if c.bold else escape(c.text)
    diff = f' <span class="d">({escape(c.delta)})</span>' if c.delta else ""
    return f"<td>{text}{diff}</td>"


def html_table(head: Sequence[str], rows: Sequence[str]) -> str:
    ths = "".join(f"<th>{escape(h)}</th>" for h in head)
    return f"<table><tr>{ths}</tr>{''.join(rows)}</table>"


def html_comparison(s: RunSummary | Sequence[ConfigResult]) -> str:
    configs = s.configs if isinstance(s, RunSummary) else list(s)
    head = ["metric", *[c.name for c in configs]]
    parts = []
    for title, rows in ROWS:
        body = [
            f"<tr><td>{escape(r.label)}</td>{''.join(map(html_cell, cells))}</tr>"
            for r, cells in table(configs, "all", rows)
        ]
        if body:
            parts.append(f"<h3>{escape(title)}</h3>" + html_table(head, body))
    return "".join(parts)


def html_sets(s: RunSummary) -> str:
    return "".join(
        f"<h2>Question set {escape(qs.name)} ({qs.n} questions)</h2>{html_comparison(qs.configs)}"
        for qs in s.sets
    )


def html_types(s: RunSummary) -> str:
    head = ["type", "metric", *[c.name for c in s.configs]]
    body = [
        f"<tr><td>{escape(t)}</td><td class=l>{escape(r.key)}</td>{''.join(map(html_cell, cells))}</tr>"
        for t, r, cells in type_rows(s)
    ]
    return html_table(head, body)


def html_question(qid: str, recs: Sequence[EvalRecord]) -> str:
    first = recs[0]
    cells = "".join(f"<td>{escape(question_cell(r))}</td>" for r in recs)
    answers = "".join(
        f"<p><b>{escape(r.config)}</b>: {escape(r.answer.answer)}</p>"
        for r in recs
        if r.answer is not None
    )
    text = escape(first.question) + (
        f"<details><summary>answers</summary>{answers}</details>" if answers else ""
    )
    kind = f"{first.set}/{first.type}" if first.set else first.type
    return f"<tr><td>{escape(qid)}</td><td class=l>{escape(kind)}</td><td class=l>{text}</td>{cells}</tr>"


def question_cell(r: EvalRecord) -> str:
    """rank of the first gold paper · answer-point recall · A when abstained."""
    m = r.metrics
    rr = m.get("mrr")
    rank = "–" if rr is None else ("miss" if not rr else f"#{round(1 / float(rr))}")
    points = m.get("point_recall")
    parts = [rank] + ([] if points is None else [f"pts {float(points):.2f}"])
    return " · ".join(parts + (["A"] if m.get("abstained") else []))


def html_questions(s: RunSummary, records: Sequence[EvalRecord]) -> str:
    by_qid: dict[str, list[EvalRecord]] = {}
    for r in records:
        by_qid.setdefault(r.qid, []).append(r)
    order = [c.name for c in s.configs]
    body = [
        html_question(q, sorted(rs, key=lambda r: order.index(r.config)))
        for q, rs in by_qid.items()
    ]
    head = ["qid", "type", "question", *order]
    return '<div class="q">' + html_table(head, body) + "</div>"


def inline(text: str) -> str:
    """Escaped text with Markdown `code` spans as <code>."""
    return re.sub(r"`([^`]*)`", r"<code>\1</code>", escape(text))


def html_list(lines: Sequence[str]) -> str:
    """The "- " bullet lines of a Markdown section as an HTML list."""
    items = "".join(f"<li>{inline(x[2:])}</li>" for x in lines if x.startswith("- "))
    return f"<ul>{items}</ul>"


def html_figures(figures: Sequence[tuple[str, str]]) -> str:
    return "".join(
        f"<h3>{escape(title)}</h3><img alt='{escape(title)}' src='data:image/png;base64,{b64}'>"
        for title, b64 in figures
    )


def html(s: RunSummary, records: Sequence[EvalRecord]) -> str:
    matcher_note = md_matcher(s)[2] if s.matcher else ""
    floors = " ".join(x for x in md_floors(s) if x)
    title = f"Evaluation: {s.mode} run, {s.n_questions} questions"
    body = [
        f"<h1>{escape(title)}</h1>{html_list(md_header(s))}",
        f"<h2>Comparison{' (all question sets together)' if s.sets else ''}</h2>"
        f"{html_comparison(s)}",
        html_figures([("Key metrics by config", png(draw_bars(s)))]),
        html_sets(s),
        f"<h2>By question type</h2>{html_types(s)}",
        f"<h2>Abstention</h2>{html_list(md_calibration(s))}",
        html_figures(calibration_plots(s, records)),
        f"<h2>Answer-point matcher</h2><p>{inline(matcher_note)}</p>{html_matcher(s)}",
        f"<h2>Floors</h2><p>{escape(floors)}</p>",
        "<h2>Questions</h2><p>Per config: rank of the first gold paper · answer-point recall · "
        f"A = abstained.</p>{html_questions(s, records)}",
    ]
    head = f"<meta charset='utf-8'><title>{escape(title)}</title><style>{CSS}</style>"
    return f"<!doctype html><html><head>{head}</head><body>{''.join(body)}</body></html>"


def html_matcher(s: RunSummary) -> str:
    body = [
        f"<tr><td>{m['min_overlap']}{' ←' if m['min_overlap'] == MIN_OVERLAP else ''}</td><td>{m['n']}</td>"
        f"<td>{fmt(m['agreement'])}</td><td>{fmt(m['precision'])}</td><td>{fmt(m['recall'])}</td></tr>"
        for m in s.matcher
    ]
    return (
        html_table(["min_overlap", "pairs", "agreement", "precision", "recall"], body)
        if body
        else ""
    )


def write_reports(out: Path, s: RunSummary, records: Sequence[EvalRecord]) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "summary.json": json.dumps(s.model_dump(mode="json"), indent=1, ensure_ascii=False),
        "report.md": markdown(s),
        "report.html": html(s, records),
    }
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
    return [out / "results.jsonl", *(out / name for name in files)]


CONSOLE_KEYS = ("hit@1", "hit@5", "recall@10", "mrr", "ndcg@10", "point_recall", "abstain_recall")


def console_lines(s: RunSummary, out_dir: Path) -> list[str]:
    """The few numbers `rag eval` prints, one line per config, and where the reports are."""
    shown = [k for k in CONSOLE_KEYS if any(c.groups["all"].get(k) is not None for c in s.configs)]
    lines = [
        f"{c.name:>10}: " + "  ".join(f"{k} {fmt(c.groups['all'].get(k))}" for k in shown)
        for c in s.configs
    ]
    return [*lines, f"reports: {out_dir}/report.html (report.md, summary.json, results.jsonl)"]
