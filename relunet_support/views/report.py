"""The page a study ends on: ``<output>/index.md`` and ``index.html`` — the headline figures and the
numbers a reader wants, computed from the run stores (never copied out of executed notebooks).

Per batch (one learning rate, several widths): the first escape ŝ(m) (``escapes.first_escape`` on the
clock s = η·k/α) fitted against ln m, with its 95 % interval, beside the theory's slope
(γ − 1 − |γ′|)/(2G*); per run: the final risk, the status, and the condensed orientations at the last
snapshot with the data points their kinks sit at. Dead or diverged runs and failed notebooks are listed.
"""

from __future__ import annotations

import dataclasses
import html
import math
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from relunet_support.analysis import condensation, escapes
from relunet_support.analysis.escapes import SlopeFit
from relunet_support.network import scaling
from relunet_support.runs.store import Run, open_run, package_versions

INDEX_MD, INDEX_HTML = "index.md", "index.html"


@dataclass(frozen=True)
class BatchSummary:
    """What one batch found."""

    tag: str
    title: str
    runs: list[Run]
    missing: list[str]  # run ids of the batch that have no run store
    escapes: list[tuple[int, float]]  # (m, ŝ) of the complete runs
    fit: SlopeFit | None  # ŝ against ln m; None with fewer than 2 widths
    theory_slope: float
    g_star: float
    rows: tuple[str, ...] = ()  # the table of its runs (``_run_rows``)


def summarise_batch(batch, tag: str, runs_dir: Path) -> BatchSummary:
    """Read the batch's runs (nothing is trained) and measure its escapes."""
    runs, missing = [], []
    for config in batch.configs():
        path = Path(runs_dir) / config.run_id()
        try:
            runs.append(open_run(path))
        except Exception:  # not there, or not a run store: listed as missing, never guessed
            missing.append(config.run_id())
    config = batch.configs()[0]
    x, y = config.training_data()
    points = [(run.config.m, escapes.first_escape_of(run)) for run in runs if run.status == "complete"]
    usable = [(m, t) for m, t in points if math.isfinite(t)]
    fit = (
        escapes.fit_line(np.log([m for m, _ in usable]), [t for _, t in usable])
        if len({m for m, _ in usable}) >= 2
        else None
    )
    rate = f"η/α = {batch.learning_rate:g}" if batch.normalised else f"η = {batch.learning_rate:g}"
    title = f"{rate}, m = {', '.join(str(m) for m in batch.widths)}, {batch.n_steps:,} steps"
    summary = BatchSummary(
        tag,
        title,
        runs,
        missing,
        points,
        fit,
        escapes.predicted_escape_slope(config.gamma, config.gamma_prime, x, y),
        escapes.g_star(x, y)[0],
    )
    return dataclasses.replace(summary, rows=tuple(_run_rows(summary)))


def _run_rows(summary: BatchSummary) -> list[str]:
    escape_of = dict(summary.escapes)
    rows = [
        "| m | η/α | first escape ŝ | final risk | status | condensed at the last snapshot (kink, nearest data x, "
        "share of the amplitude) |",
        "|---|---|---|---|---|---|",
    ]
    for run in sorted(summary.runs, key=lambda r: r.config.m):
        x, _ = run.config.training_data()
        final = (
            condensation.describe(condensation.orientation_clusters(*run.snapshot(run.n_snapshots - 1)), x)
            if run.status == "complete"
            else "– (training stopped: not a result)"
        )
        status = run.status if run.status == "complete" else f"**{run.status}** at step {run.step:,}"
        s_hat = escape_of.get(run.config.m, float("nan"))
        rows.append(
            f"| {run.config.m} | {run.config.normalised_learning_rate:.3g} | "
            f"{f'{s_hat:.3f}' if math.isfinite(s_hat) else '–'} | {run.records['risk'][-1]:.3e} | "
            f"{status} | {final} |"
        )
    return rows


def _figure(output_dir: Path, name: str, tag: str, caption: str) -> list[str]:
    path = Path("figures") / f"{name}_{tag}.png"
    return [f"![{caption}]({path.as_posix()})", ""] if (output_dir / path).exists() else []


def index_markdown(
    study, output_dir: Path, executions=(), wall_seconds: float | None = None, summaries: dict | None = None
) -> str:
    """The text of index.md (figures are linked relative to ``output_dir``). ``summaries``: the batches'
    ``summarise_batch`` already made, by tag (``batch.run_notebooks`` makes each as soon as its notebooks
    are done); the others are made here."""
    output_dir = Path(output_dir)
    made = summaries or {}
    batch_summaries = [
        made[tag] if tag in made else summarise_batch(batch, tag, output_dir / "runs")
        for batch, tag in zip(study.batches, study.tags())
    ]
    versions = package_versions()
    lines = [
        f"# relunet — study results ({time.strftime('%Y-%m-%d %H:%M %Z')})",
        "",
        f"{sum(len(s.runs) for s in batch_summaries)} runs in `runs/`, executed notebooks in `executed/`, figures in "
        f"`figures/`"
        + (f"; the batch took {wall_seconds:.0f} s" if wall_seconds is not None else "")
        + ". "
        + ", ".join(f"{name} {version}" for name, version in versions.items())
        + ".",
        "",
        "## The answer: the first escape against ln m",
        "",
        "On the theory's clock s = η·k/α_m the first escape ŝ(m) (the risk falls below 70 % of its start) "
        "should grow like ((γ − 1 − |γ′|)/(2G*))·ln m.",
        "",
        "| batch | fitted dŝ/d ln m | 95 % interval | runs | theory | dead / diverged |",
        "|---|---|---|---|---|---|",
    ]
    for s in batch_summaries:
        bad = sum(r.status in ("dead", "diverged") for r in s.runs)
        unstable = [
            r.config.m
            for r in s.runs
            if r.config.normalised_learning_rate
            > scaling.stability_limit(r.config.m, r.config.gamma, r.config.gamma_prime)
        ]
        if s.fit is None:
            fitted, interval = "–", "needs ≥ 2 widths"
        elif unstable:  # GD is not the flow the theory is about: the number is not comparable
            fitted = f"{s.fit.slope:.3f} (η/α beyond the stability limit at m = {', '.join(map(str, unstable))})"
            interval = "not comparable"
        else:
            fitted = f"**{s.fit.slope:.3f}**"
            interval = (
                f"{s.fit.slope_low:.3f} … {s.fit.slope_high:.3f}"
                if s.fit.has_interval
                else f"none: needs ≥ 3 runs, got {s.fit.n_points}"
            )
        lines.append(
            f"| {s.title} | {fitted} | {interval} | {len(s.escapes)} | {s.theory_slope:.3f} "
            f"(G* = {s.g_star:.4g}) | {bad or '–'} |"
        )
    lines.append("")
    for s in batch_summaries:
        lines += [f"## {s.title}", ""]
        if s.fit is not None:
            lines += _figure(output_dir, "escape_fit", s.tag, f"first escape against ln m, {s.title}")
            lines += _figure(output_dir, "risk_theory", s.tag, f"risk on the theory's clocks, {s.title}")
        else:
            lines += _figure(output_dir, "risk_extremes", s.tag, f"risk and extremes, {s.title}")
        lines += [*s.rows, ""]
        if s.missing:
            lines += [f"Missing run stores: {', '.join(f'`{m}`' for m in s.missing)}.", ""]
    study_wide = [
        ("phase_rd_vs_m", "RD of the input weights against m (notebook 05, Luo et al. 2021 Fig. 3)"),
        ("phase_slopes", "the exponent S_w against γ′, measured beside the derivation (notebook 05)"),
        ("phase_crossing", "where S_w changes sign, beside the theory's boundary (notebook 05, Fig. 4)"),
        ("initial_condensation_heatmaps", "cosine heat maps at the end of the initial stage (notebook 06)"),
        ("initial_condensation_lines", "condensed lines against the multiplicity p (notebook 06, Zhou et al. 2022)"),
    ]
    shown = [part for name, caption in study_wide for part in _figure(output_dir, name, "reduced", caption)]
    if shown:
        lines += ["## The phase diagram and the initial condensation (reduced presets)", "", *shown]
    failures = [e for e in executions if e.error]
    if failures:
        lines += ["## Notebooks that failed", ""]
        lines += [f"- `{e.path.name}`: {e.error}" for e in failures] + [""]
    figures = (
        sorted(p.name for p in (output_dir / "figures").glob("*.png")) if (output_dir / "figures").is_dir() else []
    )
    if figures:
        lines += ["## Every figure", ""] + [f"- [{name}](figures/{name})" for name in figures] + [""]
    return "\n".join(lines)


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_index(
    study, output_dir, executions=(), wall_seconds: float | None = None, summaries: dict | None = None
) -> tuple[Path, Path]:
    """Write ``index.md`` and ``index.html`` into ``output_dir`` (each replaced atomically); returns their paths."""
    from markdown_it import MarkdownIt

    output_dir = Path(output_dir)
    text = index_markdown(study, output_dir, executions, wall_seconds, summaries)
    body = MarkdownIt("commonmark").enable("table").render(text)
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>"
        f"{html.escape(text.splitlines()[0].lstrip('# '))}</title><style>"
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.45}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em}"
        "img{max-width:100%}</style></head><body>" + body + "</body></html>"
    )
    md_path, html_path = output_dir / INDEX_MD, output_dir / INDEX_HTML
    _write_atomically(md_path, text)
    _write_atomically(html_path, page)
    return md_path, html_path
