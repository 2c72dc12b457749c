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
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from relunet_support.analysis import condensation, escapes, seed_escapes
from relunet_support.analysis.escapes import SlopeFit
from relunet_support.files import write_text_atomically
from relunet_support.runs.store import Run, open_run, package_versions
from relunet_support.views import strip

INDEX_MD, INDEX_HTML = "index.md", "index.html"
STRIP_DIR = "strip"  # where notebook 03 (static, headline batch) draws the strip of the headline run


def markdown_table(rows) -> str:
    """A markdown table: the first row is the header; cells are formatted with ``str`` ('|' escaped)."""
    cells = [[str(cell).replace("|", "\\|") for cell in row] for row in rows]
    lines = ["| " + " | ".join(cells[0]) + " |", "|" + "---|" * len(cells[0])]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in cells[1:]])


@dataclass(frozen=True)
class BatchSummary:
    """What one batch found."""

    tag: str
    title: str
    runs: list[Run]
    missing: list[str]  # run ids of the batch that have no run store
    escapes: list[tuple[int, int, float]]  # (m, seed, ŝ₁) of every escape seed at every width (nan: no escape)
    fit: SlopeFit | None  # ŝ₁ against ln m over every (m, seed) that escaped; None with fewer than 2 widths
    theory_slope: float | None  # None where the theory has no escape phase (γ − 1 − |γ′| ≤ 0)
    g_star: float
    seeds: tuple[int, ...] = ()
    rows: tuple[str, ...] = ()  # the table of its runs (``_run_rows``)
    unstable_widths: tuple[int, ...] = ()  # where η/α exceeds the stability limit (GD is not the flow there)
    timings: dict = dataclasses.field(default_factory=dict)  # m: condensation.Timing of its complete run
    setup: tuple = ()  # what the batch shares with the batches it can be pooled with (all but η and n_steps)


def escapes_dir(runs_dir: Path) -> Path:
    """Where a study keeps its seed ensembles' first escapes: ``<output>/escapes`` beside ``<output>/runs``."""
    return Path(runs_dir).parent / "escapes"


def summarise_batch(batch, tag: str, runs_dir: Path) -> BatchSummary:
    """Read the batch's runs (nothing is trained) and measure the first escapes of its escape seeds (trained
    together up to their first escape, or read back from ``escapes_dir``: ``seed_escapes``)."""
    runs, missing = [], []
    configs = batch.configs()
    for config in configs:
        path = Path(runs_dir) / config.run_id()
        try:
            runs.append(open_run(path))
        except Exception:  # not there, or not a run store: listed as missing, never guessed
            missing.append(config.run_id())
    config = configs[0]
    x, y = config.training_data()
    seeds = batch.seeds_for_escapes()
    points = [
        (c.m, seed, float(t))
        for c in configs
        for seed, t in zip(seeds, seed_escapes.cached_seed_escapes(c, seeds, escapes_dir(runs_dir)).first_escapes)
    ]
    fit = escapes.fit_escape_times(points)
    rate = batch.label
    title = f"{rate}, m = {', '.join(str(m) for m in batch.widths)}, {batch.n_steps:,} steps"
    theory = (
        escapes.predicted_escape_slope(config.gamma, config.gamma_prime, x, y)
        if escapes.has_escape_phase(config.gamma, config.gamma_prime)
        else None
    )
    unstable = tuple(c.m for c in configs if c.beyond_stability_limit)
    setup = tuple(
        sorted((k, repr(v)) for k, v in config.identity().items() if k not in ("learning_rate", "n_steps", "m", "seed"))
    )
    timings = {}
    for run in runs:
        if run.status == "complete":
            timings[run.config.m] = condensation.run_timing(run, condensation.sparse_history(run))
    summary = BatchSummary(
        tag,
        title,
        runs,
        missing,
        points,
        fit,
        theory,
        escapes.g_star(x, y)[0],
        seeds=seeds,
        unstable_widths=unstable,
        setup=setup,
        timings=timings,
    )
    return dataclasses.replace(summary, rows=tuple(_run_rows(summary)))


def _run_rows(summary: BatchSummary) -> list[str]:
    by_width: dict[int, dict[int, float]] = {}
    for m, seed, t in summary.escapes:
        by_width.setdefault(m, {})[seed] = t
    rows: list[list] = [
        [
            "m", "η/α", "first escape ŝ₁ of this run", f"ŝ₁ over the {len(summary.seeds)} escape seeds (median, range)",
            "final risk", "status", "condensed from s (first cluster; final count)",
            "condensed at the last snapshot (kink, nearest data x, share of the amplitude)",
        ]
    ]  # fmt: skip
    for run in sorted(summary.runs, key=lambda r: r.config.m):
        x, _ = run.config.training_data()
        final = (
            condensation.describe(condensation.orientation_clusters(*run.snapshot(run.n_snapshots - 1)), x)
            if run.status == "complete"
            else "– (training stopped: not a result)"
        )
        status = _status(run)
        own = by_width.get(run.config.m, {}).get(run.config.seed, float("nan"))
        measured = np.array([t for t in by_width.get(run.config.m, {}).values() if math.isfinite(t)])
        spread = (
            f"{np.median(measured):.3f} ({measured.min():.3f} … {measured.max():.3f}, {measured.size} seeds)"
            if measured.size
            else "–"
        )
        held = summary.timings.get(run.config.m)
        when = (
            "–"
            if held is None or not math.isfinite(held.first)
            else f"{held.first:.4g}; {held.final_count} from {held.final:.4g}"
        )
        rows.append(
            [
                run.config.m, f"{run.config.normalised_learning_rate:.3g}", f"{own:.3f}" if math.isfinite(own) else "–",
                spread, f"{run.records['risk'][-1]:.3e}", status, when, final,
            ]
        )  # fmt: skip
    return markdown_table(rows).splitlines()


def _status(run: Run) -> str:
    """The run's status; a complete run whose risk still fell more than twofold over its last 10 % of steps
    (it stopped because its steps ran out, not because it converged) says so, with its final risk."""
    if run.status != "complete":
        return f"**{run.status}** at step {run.step:,}"
    steps, risk = run.records["step"], run.records["risk"]
    before = risk[np.searchsorted(steps, 0.9 * steps[-1])]
    if risk[-1] > 0 and before > 2 * risk[-1]:
        return f"complete, **still falling** (÷{before / risk[-1]:.3g} over the last 10 % of steps)"
    return "complete"


def _fit_text(fit: SlopeFit) -> str:
    if not fit.has_interval:
        return f"none: needs ≥ 3 runs, got {fit.n_points}"
    return f"{fit.slope_low:.3f} … {fit.slope_high:.3f} (± {(fit.slope_high - fit.slope_low) / 2:.3f})"


def _theory_text(theory: float | None, g_star: float, fit: SlopeFit | None) -> str:
    if theory is None:
        return "– (γ − 1 − |γ′| ≤ 0: no escape phase)"
    text = f"{theory:.3f} (G* = {g_star:.4g})"
    if fit is None or not fit.has_interval:
        return text
    return f"{text}: {_where(theory, fit)}"


def _where(value: float, fit: SlopeFit) -> str:
    """'inside the interval', or 'outside the interval, 0.003 above its upper end'."""
    if fit.slope_low <= value <= fit.slope_high:
        return "inside the interval"
    if value > fit.slope_high:
        return f"outside the interval, {value - fit.slope_high:.3f} above its upper end"
    return f"outside the interval, {fit.slope_low - value:.3f} below its lower end"


def pooled_comparison(summaries: list[BatchSummary]) -> list[str]:
    """Markdown comparing the batches that differ only in η (and steps): the same seeds at the same widths
    are the same networks, so their ŝ₁ are paired; the largest difference, each batch's slope, and the fit
    of the mean ŝ₁ over the batches per (m, seed) — the study's answer when every batch's slope lies in that
    fit's interval ("they agree"), with the range of m, the seeds and the η that it pools."""
    groups: dict[tuple, list[BatchSummary]] = {}
    for s in summaries:
        if s.fit is not None and s.fit.has_interval and not s.unstable_widths:
            groups.setdefault(s.setup, []).append(s)
    lines: list[str] = []
    for group in (g for g in groups.values() if len(g) >= 2):
        tables = [{(m, seed): t for m, seed, t in s.escapes if math.isfinite(t)} for s in group]
        common = sorted(set.intersection(*(set(t) for t in tables)))
        if len({m for m, _ in common}) < 3:
            continue
        values = np.array([[table[key] for key in common] for table in tables])  # (batches, pairs)
        widest = float(np.max(np.ptp(values, axis=0)))
        pooled = escapes.fit_escape_times([(m, seed, t) for (m, seed), t in zip(common, values.mean(axis=0))])
        if pooled is None:  # not reached: ≥ 3 widths above
            continue
        agree = all(pooled.slope_low <= s.fit.slope <= pooled.slope_high for s in group if s.fit is not None)
        widths = sorted({m for m, _ in common})
        seeds = sorted({seed for _, seed in common})
        rates = ", ".join(s.title.split(",")[0] for s in group)
        fastest = max((r.config.normalised_learning_rate for s in group for r in s.runs), default=0.0)
        sentences = [
            f"**Do the learning rates agree?** {rates}: the same {len(seeds)} seeds at the same {len(widths)} widths "
            "are the same networks, trained with different η; their ŝ₁ differ by at most "
            f"{widest:.3f} (per network, on the clock s).",
            "Slopes: " + ", ".join(f"{s.fit.slope:.3f}" for s in group if s.fit is not None) + ".",
            f"Pooled (the mean ŝ₁ of each network over the η): **dŝ₁/d ln m = {pooled.slope:.3f}**, 95 % interval "
            f"{_fit_text(pooled)}, m = {widths[0]} … {widths[-1]}, {len(common)} networks.",
        ]
        if not agree:
            sentences.append("A batch's slope lies outside the pooled interval: they disagree, and nothing is pooled.")
        else:
            sentences.append(
                "Every batch's slope lies inside the pooled interval: they agree, and the pooled fit is the answer."
            )
            if fastest > 0.4:
                sentences.append(
                    f"(Some runs take η/α up to {fastest:.3g}, beyond the 0.4–0.8 up to which GD was measured to "
                    "follow the gradient flow within 2 % in bench/flow.md: the agreement says that this does not "
                    "move ŝ₁ by more than the difference above.)"
                )
        lines += [" ".join(sentences), ""]
        theory = group[0].theory_slope
        if agree and theory is not None:
            lines += [
                f"The theory's slope {theory:.3f} is the large-m limit. Against this fit, measured over m = "
                f"{widths[0]} … {widths[-1]} only (a local slope, not a law beyond that range), it lies "
                f"{_where(theory, pooled)}.",
                "",
            ]
    return lines


def _figure(output_dir: Path, name: str, tag: str, caption: str) -> list[str]:
    """The figure (when it exists) and its one-line caption below it."""
    path = Path("figures") / f"{name}_{tag}.png"
    return [f"![{caption}]({path.as_posix()})", "", f"*{caption}*", ""] if (output_dir / path).exists() else []


def index_markdown(
    study, output_dir: Path, executions=(), wall_seconds: float | None = None, summaries: dict | None = None
) -> str:
    """The text of index.md (figures are linked relative to ``output_dir``). ``summaries``: the batches'
    ``summarise_batch`` already made, by tag (``batch.run_notebooks`` makes each as soon as its notebooks
    are done); the others are made here."""
    output_dir = Path(output_dir)
    made = summaries or {}
    batch_summaries, unsummarised = [], []
    for batch, tag in zip(study.batches, study.tags()):
        try:
            batch_summaries.append(made[tag] if tag in made else summarise_batch(batch, tag, output_dir / "runs"))
        except Exception as error:  # the page is still written, and says which batch is missing and why
            unsummarised.append(f"- `{tag}`: {type(error).__name__}: {error}")
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
        "On the theory's clock s = η·k/α_m the first escape ŝ₁(m) (the first s where the risk falls below 70 % of "
        "its start) should grow like ((γ − 1 − |γ′|)/(2G*))·ln m for large m. Each width is measured over the "
        "batch's escape seeds (trained together up to their first escape); the slope is fitted over every "
        "(m, seed), with a 95 % interval clustered by seed (a seed's networks at different widths share their "
        "first neurons, so they are not independent).",
        "",
    ]
    table: list[list] = [
        [
            "batch", "η/α", "seeds × widths", "fitted dŝ₁/d ln m", "95 % interval (clustered by seed)",
            "theory (γ − 1 − |γ′|)/(2G*)", "escape seeds that never escaped", "dead / diverged plotted runs",
        ]
    ]  # fmt: skip
    for s in batch_summaries:
        bad = sum(r.status in ("dead", "diverged") for r in s.runs)
        unstable = s.unstable_widths
        if s.fit is None:
            fitted, interval = "–", "needs ≥ 2 widths"
        elif unstable:  # GD is not the flow the theory is about: no number to compare
            fitted = f"not comparable: η/α beyond the stability limit at m = {', '.join(map(str, unstable))}"
            interval = "–"
        else:
            fitted, interval = f"**{s.fit.slope:.3f}**", _fit_text(s.fit)
        no_escape = sum(not math.isfinite(t) for _, _, t in s.escapes)
        rates = [r.config.normalised_learning_rate for r in s.runs]
        rate_range = (
            "–"
            if not rates
            else f"{rates[0]:.3g}"
            if min(rates) == max(rates)
            else f"{min(rates):.3g} … {max(rates):.3g}"
        )
        table.append(
            [
                s.title, rate_range, f"{len(s.seeds)} × {len({m for m, _, _ in s.escapes})}", fitted, interval,
                _theory_text(s.theory_slope, s.g_star, s.fit if not unstable else None), no_escape or "–", bad or "–",
            ]
        )  # fmt: skip
    lines += [markdown_table(table), "", *pooled_comparison(batch_summaries)]
    manifest = strip.read_strip(output_dir / STRIP_DIR)
    if manifest is not None:
        lines += ["## Condensation, frame by frame", "", *strip.markdown(manifest, STRIP_DIR)]
    lines.append("")
    for s in batch_summaries:
        lines += [f"## {s.title}", ""]
        if s.fit is not None:
            lines += _figure(
                output_dir,
                "escape_fit",
                s.tag,
                f"the first escape ŝ₁ of each seed (dots) against ln m with the fitted line, its 95 % band and the "
                f"theory's slope; right, the second escape of the plotted runs — {s.title}",
            )
            lines += _figure(
                output_dir,
                "risk_theory",
                s.tag,
                f"the risk against s = η·k/α, s/ln m and s − ŝ₁(m): one colour per width — {s.title}",
            )
        else:
            lines += _figure(output_dir, "risk_extremes", s.tag, f"risk and extremes, {s.title}")
        lines += _figure(
            output_dir,
            "condensation_timing",
            s.tag,
            "when the neurons condense: the s from which a cluster holds (to 2s at least) and from which the final "
            f"count holds (the count beside each point), against ln m, beside the median first escape — {s.title}",
        )
        lines += _figure(
            output_dir,
            "condensation",
            s.tag,
            f"condensed orientation clusters and the share of amplitude they carry, against s — {s.title}",
        )
        lines += [*s.rows, ""]
        if s.missing:
            lines += [f"Missing run stores: {', '.join(f'`{m}`' for m in s.missing)}.", ""]
    study_wide = [
        ("phase_rd_vs_m", "RD of the input weights against m (notebook 05, Luo et al. 2021 Fig. 3)"),
        ("phase_slopes", "the exponent S_w against γ′, measured beside the derivation (notebook 05)"),
        ("phase_crossing", "where S_w changes sign, beside the theory's boundary (notebook 05, Fig. 4)"),
        (
            "initial_condensation_heatmaps",
            "cosine heat maps of the neurons' directions at the end of the initial stage, one activation per panel; "
            "each panel's title gives its seed, the step the stage ended at, its η and the lines counted (notebook 06)",
        ),
        (
            "initial_condensation_lines",
            "condensed lines against the multiplicity p on Zhou et al.'s target, beside their bound 'at most p' "
            "(notebook 06; M is negative definite there, so p = 2 can form only one line)",
        ),
        (
            "initial_condensation_heatmaps_odd",
            "cosine heat maps on the odd target over mirrored points (notebook 06, relunet's own example)",
        ),
        (
            "initial_condensation_lines_odd",
            "condensed lines against p on the odd data, where M has eigenvalues ±‖g‖: p = 2 forms two lines "
            "(notebook 06)",
        ),
    ]
    shown = [part for name, caption in study_wide for part in _figure(output_dir, name, "reduced", caption)]
    if shown:
        lines += ["## The phase diagram and the initial condensation (reduced presets)", "", *shown]
    if unsummarised:
        lines += ["## Batches that could not be summarised", "", *unsummarised, ""]
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


def write_index(
    study, output_dir, executions=(), wall_seconds: float | None = None, summaries: dict | None = None
) -> tuple[Path, Path]:
    """Write ``index.md`` and ``index.html`` into ``output_dir`` (each replaced atomically); returns their paths."""
    from markdown_it import MarkdownIt

    output_dir = Path(output_dir)
    text = index_markdown(study, output_dir, executions, wall_seconds, summaries)
    body = MarkdownIt("commonmark").enable("table").render(text)
    manifest = strip.read_strip(output_dir / STRIP_DIR)
    if manifest is not None:  # the kernel-free slider, where index.md has the first and last frames
        body = strip.with_slider(body, manifest, STRIP_DIR)
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>"
        f"{html.escape(text.splitlines()[0].lstrip('# '))}</title><style>"
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.45}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em}"
        "img{max-width:100%}</style></head><body>" + body + "</body></html>"
    )
    md_path, html_path = output_dir / INDEX_MD, output_dir / INDEX_HTML
    write_text_atomically(md_path, text)
    write_text_atomically(html_path, page)
    return md_path, html_path
