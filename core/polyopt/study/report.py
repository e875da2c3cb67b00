"""The study report: one self-contained HTML page (PNG plots embedded as base64), plus CSV and JSON exports.

Files written to the output folder: ``index.html``, ``summary.csv`` (problem x optimizer x metric: budget,
median, IQR, p-value, verdict, front source), ``runs.csv`` (one row per run), ``metrics.csv`` (every recorded
metric, long format) and ``report.json`` (all of it). What the statistics mean is in
:mod:`polyopt.study.analysis`.
"""

from __future__ import annotations

import base64
import csv
import html
import json
import math
import time
from pathlib import Path
from typing import Any

from polyopt.study._parsing import budget_dict
from polyopt.study.analysis import (
    ALPHA,
    SOURCES,
    Group,
    ProblemData,
    RunData,
    budget_words,
    collect,
    metric_title,
)
from polyopt.study.definition import Study
from polyopt.study.plots import convergence_png, front_limits, fronts_png, palette
from polyopt.study.storage import Storage

__all__ = ["budget_text", "write_report"]

_CSS = """
body{font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;background:#f6f7f9;
color:#1f2328;line-height:1.45}
main{max-width:1180px;margin:0 auto;padding:28px 32px 60px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:34px 0 12px;padding-bottom:6px;border-bottom:1px solid #d8dde3}
.sub{color:#59636e;font-size:14px;margin-bottom:18px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:14px 0 6px}
.card{background:#fff;border:1px solid #e1e5ea;border-radius:8px;padding:10px 16px;min-width:110px}
.card b{display:block;font-size:20px}.card span{color:#59636e;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.figs{display:flex;gap:14px;flex-wrap:wrap;align-items:flex-start}
.figs img{background:#fff;border:1px solid #e1e5ea;border-radius:8px;padding:6px;max-width:100%}
table{border-collapse:collapse;background:#fff;border:1px solid #e1e5ea;border-radius:8px;overflow:hidden;
margin:12px 0;font-size:13.5px;min-width:60%}
th,td{padding:7px 12px;text-align:right;border-bottom:1px solid #eef0f3;white-space:nowrap}
th{background:#f0f2f5;font-weight:600;color:#3b434b}th:first-child,td:first-child{text-align:left}
tr:last-child td{border-bottom:none}td.best{font-weight:700;background:#eef7ee}td.worse{color:#8a3b3b}
.dot{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:7px;vertical-align:middle}
.note{color:#59636e;font-size:12.5px}.err{color:#a33;font-size:12px;white-space:pre-wrap}
a{color:#2f6fb3}code{background:#eef0f3;padding:1px 5px;border-radius:4px}
caption{caption-side:top;text-align:left;padding:8px 12px;background:#fff}
"""


def write_report(storage: Storage | str, name: str, out_dir: str | Path) -> Path:
    """Write the report of study ``name`` into ``out_dir``; return the HTML file's path."""
    storage = Storage(storage) if isinstance(storage, str) else storage
    study, runs, problems = collect(storage, name)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _write_csvs(out, runs, problems)
    data = _json(study, runs, problems)
    (out / "report.json").write_text(json.dumps(data, indent=1, default=_clean))
    page = out / "index.html"
    page.write_text(_html(study, runs, problems))
    return page


def _write_csvs(out: Path, runs: list[RunData], problems: list[ProblemData]) -> None:
    metric_keys = sorted({k for r in runs for k in r.final})
    with open(out / "runs.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "run",
                "optimizer",
                "problem",
                "seed",
                "status",
                "n_evaluations",
                "wall_time",
                *metric_keys,
            ]
        )
        for r in runs:
            w.writerow(
                [
                    r.key,
                    r.optimizer,
                    r.problem,
                    r.seed,
                    r.status,
                    r.n_evaluations,
                    f"{r.wall_time:.3f}",
                    *[_fmt_csv(r.final.get(k)) for k in metric_keys],
                ]
            )
    with open(out / "summary.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "problem",
                "optimizer",
                "budget",
                "metric",
                "median",
                "iqr",
                "p_value",
                "verdict",
                "runs_done",
                "median_wall_time",
                "front_source",
            ]
        )
        for p in problems:
            for row in p.rows:
                for metric, st in row.stats.items():
                    w.writerow(
                        [
                            p.label,
                            row.optimizer,
                            row.budget,
                            metric,
                            _fmt_csv(st["median"]),
                            _fmt_csv(st["iqr"]),
                            _fmt_csv(st["p_value"]),
                            st["verdict"],
                            row.n_done,
                            _fmt_csv(row.wall_time),
                            row.front_source or "",
                        ]
                    )
    with open(out / "metrics.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "run",
                "optimizer",
                "problem",
                "seed",
                "step",
                "n_evaluations",
                "elapsed",
                "metric",
                "value",
            ]
        )
        for r in runs:
            for t in r.trace:
                for k, v in t["values"].items():
                    w.writerow(
                        [
                            r.key,
                            r.optimizer,
                            r.problem,
                            r.seed,
                            t["step"],
                            t["n_evaluations"],
                            f"{t['elapsed']:.4f}",
                            k,
                            _fmt_csv(v),
                        ]
                    )


def _fmt_csv(v: Any) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    return repr(v) if isinstance(v, float) else str(v)


def _clean(v: Any) -> Any:
    if hasattr(v, "tolist"):
        return v.tolist()
    return str(v)


def _json(study: Study, runs: list[RunData], problems: list[ProblemData]) -> dict[str, Any]:
    def num(v: Any) -> Any:
        return None if isinstance(v, float) and not math.isfinite(v) else v

    return {
        "study": study.to_dict(),
        "generated_at": time.time(),
        "runs": [
            {
                "run": r.key,
                "optimizer": r.optimizer,
                "problem": r.problem,
                "seed": r.seed,
                "status": r.status,
                "n_evaluations": r.n_evaluations,
                "wall_time": r.wall_time,
                "final": {k: num(v) for k, v in r.final.items()},
                "front_source": r.front_source,
                "budget": r.budget,
                "config": r.config,
                "front": r.front.tolist(),
            }
            for r in runs
        ],
        "problems": [
            {
                "problem": p.label,
                "n_objectives": p.n_objectives,
                "curve_metric": p.curve_metric,
                "tables": [
                    {
                        "budget": g.budget,
                        "min_p_value": g.min_p,
                        "rows": [
                            {
                                "optimizer": row.optimizer,
                                "runs_done": row.n_done,
                                "runs": row.n_runs,
                                "median_wall_time": num(row.wall_time),
                                "front_source": row.front_source,
                                "metrics": row.stats,
                            }
                            for row in g.rows
                        ],
                    }
                    for g in p.groups
                ],
            }
            for p in problems
        ],
    }


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _html(study: Study, runs: list[RunData], problems: list[ProblemData]) -> str:
    labels = [o.label for o in study.optimizers]
    colors = palette(labels)
    counts = {s: sum(r.status == s for r in runs) for s in ("done", "running", "pending", "failed")}
    cards = [
        ("runs", len(runs)),
        *counts.items(),
        ("evaluations", f"{sum(r.n_evaluations for r in runs):,}"),
        ("run time (sum)", _duration(sum(r.wall_time for r in runs))),
    ]
    parts = [
        f"<h1>Study <code>{html.escape(study.name)}</code></h1>",
        f'<div class="sub">{html.escape(study.grid)} · budget {html.escape(budget_text(study))}'
        f" · generated {time.strftime('%Y-%m-%d %H:%M')}</div>",
        '<div class="cards">'
        + "".join(f'<div class="card"><b>{v}</b><span>{k}</span></div>' for k, v in cards)
        + "</div>",
    ]
    for p in problems:
        parts.append(_problem_html(p, colors))
    parts.append(_failures_html(runs))
    parts.append(
        '<h2>How to read it</h2><p class="note">Medians and interquartile ranges (IQR) across seeds. '
        "Optimizers are compared only with those that had the same budget (one table per budget), "
        "against the best median of their table, by the two-sided Mann-Whitney U (Wilcoxon rank-sum) "
        f"test: exact for small samples. ▼: worse at p &lt; {ALPHA}; ≈: not significantly different "
        "(n.s.), which is not the same as equal. No correction for multiple comparisons. Fronts are "
        "those of each optimizer's median run. A set metric (hypervolume, IGD, ...) is measured on "
        f"what the optimizer returns: its <i>{SOURCES['archive']}</i>, or its "
        f"<i>{SOURCES['population']}</i> (column “front”).</p>"
        '<h2>Exports</h2><p class="note"><a href="summary.csv">summary.csv</a> · <a href="runs.csv">'
        'runs.csv</a> · <a href="metrics.csv">metrics.csv</a> · <a href="report.json">report.json</a>'
        "</p>"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>polyopt study {html.escape(study.name)}"
        f"</title><style>{_CSS}</style></head><body><main>{''.join(parts)}</main></body></html>"
    )


def _problem_html(p: ProblemData, colors: dict[str, str]) -> str:
    out = [
        f"<h2>{html.escape(p.label)} <span class='note'>({p.n_objectives} objectives)</span></h2>",
        '<div class="figs">',
    ]
    if p.curves and p.curve_metric:
        name = metric_title(p.curve_metric)
        out.append(
            _img(
                convergence_png(
                    p.curves, colors, name, f"{p.label}: {name} vs evaluations (median, IQR)"
                ),
                f"{name} convergence on {p.label}",
            )
        )
    if p.fronts and p.n_objectives > 1:
        limits = front_limits(p.fronts, p.true_front, p.ref_point, p.directions)
        out.append(
            _img(
                fronts_png(
                    p.fronts,
                    colors,
                    true_front=p.true_front,
                    title=f"{p.label}: final fronts",
                    limits=limits,
                ),
                f"final fronts on {p.label}",
            )
        )
    out.append("</div>")
    for group in p.groups:
        out.append(_table(p, group, colors, several=len(p.groups) > 1))
    return "".join(out)


def _table(p: ProblemData, group: Group, colors: dict[str, str], several: bool) -> str:
    fronts = p.n_objectives > 1 and any(row.front_source for row in group.rows)
    head = "".join(
        f"<th>{html.escape(metric_title(m))} median</th><th>IQR</th><th>p vs best</th>"
        for m in p.metrics
    )
    rows = []
    for row in group.rows:
        cells = [
            f'<td><span class="dot" style="background:{colors[row.optimizer]}"></span>'
            f"{html.escape(row.optimizer)}</td>"
        ]
        for m in p.metrics:
            st = row.stats.get(m, {})
            cls = {"best": "best", "worse": "worse"}.get(str(st.get("verdict")), "")
            cells.append(
                f'<td class="{cls}">{_num(st.get("median"))}</td><td>{_num(st.get("iqr"))}</td>'
                f"<td>{_pval(st)}</td>"
            )
        if fronts:
            cells.append(f"<td>{row.front_source or '–'}</td>")
        cells.append(f"<td>{row.n_done}/{row.n_runs}</td><td>{_num(row.wall_time, 2)} s</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    caption = f"budget: {html.escape(group.budget)}"
    if several:
        caption += " — compared only with optimizers of the same budget"
    if group.min_p is not None and group.min_p >= ALPHA:
        caption += (
            f". With {min(r.n_done for r in group.rows if r.n_done)} runs per optimizer the "
            f"smallest possible p is {group.min_p:.3g}, so no difference can reach p &lt; {ALPHA}: "
            "add seeds to tell these optimizers apart"
        )
    return (
        f"<table><caption class='note'>{caption}</caption><thead><tr><th>optimizer</th>{head}"
        f"{'<th>front</th>' if fronts else ''}<th>runs</th><th>wall time (median)</th></tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _failures_html(runs: list[RunData]) -> str:
    bad = [r for r in runs if r.status == "failed"]
    if not bad:
        return ""
    items = "".join(
        f"<li><code>{html.escape(r.key)}</code><div class='err'>"
        f"{html.escape((r.error or '').strip().splitlines()[-1] if r.error else '')}</div></li>"
        for r in bad
    )
    return f"<h2>Failed runs</h2><ul>{items}</ul>"


def _num(v: Any, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{v:.{digits}g}" if digits != 2 else f"{v:.2f}"


def _pval(st: dict[str, Any]) -> str:
    if st.get("verdict") == "best":
        return "best"
    p = st.get("p_value")
    if p is None:
        return "–"
    return f"{p:.3g}" + (" ▼" if st.get("verdict") == "worse" else " ≈")


def budget_text(study: Study) -> str:
    """The study's budget, followed by any problem's or optimizer's own (which override it for their runs)."""
    own = [
        (s.label, s.budget) for s in (*study.problems, *study.optimizers) if s.budget is not None
    ]
    text = budget_words(study.budget)
    if own:
        text += (
            " (" + "; ".join(f"{label}: {budget_words(budget_dict(b))}" for label, b in own) + ")"
        )
    return text


def _duration(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
