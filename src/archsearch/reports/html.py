"""A self-contained HTML page about one search run, with the PNG figures beside it.

The page embeds every figure as a ``data:`` URI and carries its own CSS and a few lines
of script, so it displays the same when copied alone; its Content-Security-Policy allows
nothing from the network. Every string read from the run is HTML-escaped.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from archsearch._utils.imports import require
from archsearch._utils.units import format_flops
from archsearch.errors import ArchSearchError, InvalidParameterError
from archsearch.objectives import MnasReward, MultiObjective
from archsearch.oneshot.darts import epoch_base, epoch_number
from archsearch.reports.plots import (
    plot_epochs,
    plot_progress,
    plot_scores,
    plot_training,
    usable_history,
)
from archsearch.reports.summary import RunSummary, describe_settings, format_seconds, load_run
from archsearch.types import FrozenTrial, TrialState

__all__ = ["write_report"]

# Sets data-images-loaded / data-images-total on <body> once the page has loaded, so that
# a headless browser can check that every figure decoded (and data-page-height, the height
# of a full-page screenshot).
SCRIPT = ("window.addEventListener('load', function () {"
          " var all = Array.prototype.slice.call(document.images);"
          " var ok = all.filter(function (i) { return i.complete && i.naturalWidth > 0; });"
          " document.body.dataset.imagesLoaded = String(ok.length);"
          " document.body.dataset.imagesTotal = String(all.length);"
          " var box = document.documentElement.getBoundingClientRect();"
          " document.body.dataset.pageHeight = String(Math.ceil(box.height));"
          " });")


def _E(text: object) -> str:
    """``text`` as HTML text or attribute value: every string from a run passes here."""
    return html.escape(str(text))


@dataclass(frozen=True)
class _Section:
    id: str
    title: str
    body: str


def write_report(run_dir: str | Path, out: str | Path | None = None, *, top: int = 10,
                 name: str | None = None) -> Path:
    """Write ``index.html`` about a search run, with its figures as PNG files beside it.

    Args:
        run_dir: a run directory made by ``archsearch search --run-dir``.
        out: the folder to write (default: ``RUN_DIR/report``).
        top: how many of the best trials the table lists.
        name: the experiment (default: the first in the store).

    Returns:
        The path of ``index.html``.

    Example:
        >>> import archsearch, tempfile, numpy as np
        >>> from pathlib import Path
        >>> run = Path(tempfile.mkdtemp())
        >>> store = archsearch.SQLiteStore(run / "store.db")
        >>> space = archsearch.create_space("nb201")
        >>> exp = store.create_experiment("demo", {"space": {"name": "nb201"}})
        >>> trial = store.start_trial(exp, space.sample(np.random.default_rng(0)))
        >>> _ = store.finish_trial(trial.id, archsearch.TrialState.COMPLETE, {"val_accuracy": 0.9})
        >>> page = write_report(run)
        >>> page.name, "0.9" in page.read_text()
        ('index.html', True)
    """
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise InvalidParameterError(f"The 'top' parameter of write_report must be an int >= 1. "
                                    f"Got {top!r} instead.")
    run = load_run(run_dir, name)
    require("matplotlib", "plot")  # before anything is written
    folder = Path(out) if out is not None else run.path / "report"
    _make_dir(folder)
    sections = [_header(run), _progress(run, folder), _scores(run, folder),
                _pareto(run, folder), _cells(run, folder), _training(run, folder),
                _top(run, top)]
    if any(t.state is not TrialState.COMPLETE for t in run.trials):
        sections.append(_unscored(run))
    path = folder / "index.html"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(_page(run, sections), encoding="utf-8")
    os.replace(tmp, path)
    return path


def _make_dir(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise InvalidParameterError(f"Report folder {folder}: a file is in the way.") from None
    except OSError as err:
        raise InvalidParameterError(f"Report folder {folder}: cannot create it "
                                    f"({err.strerror or err}).") from None


# --- the page ----------------------------------------------------------------------
def _page(run: RunSummary, sections: Sequence[_Section]) -> str:
    digest = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
    policy = (f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
              f"script-src 'sha256-{digest}'")
    nav = "".join(f'<a href="#{s.id}">{_E(s.title)}</a>' for s in sections)
    body = "".join(f'<section id="{s.id}"><h2>{_E(s.title)}</h2>{s.body}</section>'
                   for s in sections)
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime())
    css = resources.files("archsearch.reports").joinpath("report.css").read_text()
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_E(_title(run))} · archsearch report</title><style>{css}</style></head>\n"
        f'<body><header class="top"><div class="wrap"><h1>{_E(_title(run))}</h1>'
        f'<div class="sub">archsearch report · experiment {_E(run.name)} · run directory '
        f'{_E(str(run.path.resolve()))}</div>'
        "</div></header>"
        f'<nav><div class="wrap">{nav}</div></nav><main class="wrap">{body}</main>'
        f"<footer>Written by archsearch {_E(_version())} on {when}.</footer>"
        f"<script>{SCRIPT}</script></body></html>\n")


def _title(run: RunSummary) -> str:
    """The run directory's name, then what it searched: ``units-run: nb201 on digits``."""
    space = run.settings.get("space")
    space_name = space.get("name") if isinstance(space, Mapping) else run.config.get("space")
    folder = run.path.resolve().name or str(run.path)
    what = " on ".join(str(x) for x in (space_name, run.dataset()) if x and x != "unknown")
    return f"{folder}: {what}" if what else folder


def _arch(text: str) -> str:
    """An architecture string as HTML that may break only after a separator (+ | , ;)."""
    escaped = _E(text)
    for sep in "+|,;":
        escaped = escaped.replace(sep, sep + "<wbr>")
    return escaped


def _version() -> str:
    from archsearch import __version__

    return __version__


def _na(reason: str) -> str:
    return f'<p class="na">Not available because {_E(reason)}.</p>'


def _figure(path: Path, alt: str, caption: str = "") -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    cap = f"<figcaption>{caption}</figcaption>" if caption else ""
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{_E(alt)}" '
            f'data-file="{_E(path.name)}">{cap}</figure>')


def _fmt(value: Any) -> str:
    """A metric for a table: integers with separators, the rest to four significant digits."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "–" if value is None else _E(str(value))
    if not math.isfinite(value):
        return "–"
    if float(value).is_integer() and abs(value) >= 1:
        return f"{int(value):,}"
    return f"{value:.4g}"


def _metric(name: str, value: Any) -> str:
    """A metric for a table: FLOPs with a unit prefix (4.12 MFLOPs), the rest as _fmt."""
    if name == "flops" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return _E(format_flops(value))
    return _fmt(value)


def _seconds(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.2f}" if value < 100 else f"{value:,.0f}"


def _facts(pairs: Sequence[tuple[str, str]]) -> str:
    """A grid of label/value pairs; values are HTML already."""
    return '<dl class="facts">' + "".join(f"<div><dt>{_E(k)}</dt><dd>{v}</dd></div>"
                                          for k, v in pairs) + "</dl>"


def _table(head: Sequence[tuple[str, bool]], rows: Sequence[tuple[str, Sequence[str]]]) -> str:
    """``head``: (title, numeric); ``rows``: (tr class, cells as HTML)."""
    th = "".join(f'<th class="num">{_E(h)}</th>' if num else f"<th>{_E(h)}</th>" for h, num in head)
    trs = "".join(
        f'<tr class="{cls}">' + "".join(f'<td class="num">{c}</td>' if num else f"<td>{c}</td>"
                                        for c, (_, num) in zip(cells, head)) + "</tr>"
        for cls, cells in rows)
    return f'<div class="table"><table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table></div>'


# --- 1. header ----------------------------------------------------------------------
def _evaluator(run: RunSummary) -> str:
    if run.one_shot:
        return "one-shot supernet (no separate evaluator)"
    settings = run.settings.get("evaluator")
    if not isinstance(settings, Mapping):
        return str(run.config.get("evaluator", "unknown"))
    name = settings.get("name")
    if name == "train":
        train = settings.get("train")
        train = train if isinstance(train, Mapping) else {}
        epochs = train.get("n_epochs", "?")
        return (f"partial training ({epochs} epoch{'' if epochs == 1 else 's'}, lr "
                f"{train.get('lr', '?')}, batch {train.get('batch_size', '?')})")
    if name == "proxy":
        return f"training-free proxies: {', '.join(map(str, settings.get('proxies', [])))}"
    if name == "table":
        return f"table lookup: {Path(str(settings.get('table', '?'))).name}"
    if name == "composite" and isinstance(settings.get("parts"), list):
        return " + ".join(describe_settings(p) for p in settings["parts"])
    return describe_settings(settings)


def _objective_text(run: RunSummary) -> str:
    objective = run.objective
    if isinstance(objective, MultiObjective):
        return ", ".join(f"{m} ({d[:3]})" for m, d in objective.metrics)
    if isinstance(objective, MnasReward):
        return (f"MnasNet reward of {objective.accuracy} and {objective.latency} "
                f"(target {objective.target:g})")
    return f"{objective.name} ({objective.direction[:3]})"


def _scores_of(run: RunSummary, trial: FrozenTrial) -> list[tuple[str, float]]:
    """The metrics the search optimised, as the trial has them."""
    objective = run.objective
    names: tuple[str, ...] = (objective.name,)
    if isinstance(objective, MultiObjective):
        names = objective.names
    elif isinstance(objective, MnasReward):
        names = (objective.name, objective.accuracy, objective.latency)
    return [(n, trial.values[n]) for n in names if n in trial.values]


def _header(run: RunSummary) -> _Section:
    counts = run.counts()
    badges = " ".join(_badge(state, n) for state, n in counts.items())
    start = run.started_at()
    started = "–" if start is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(start))
    facts = [("Dataset", _E(run.dataset())),
             ("Search space", _E(describe_settings(run.settings.get("space", "unknown")))),
             ("Strategy", _E(_strategy(run))), ("Evaluator", _E(_evaluator(run))),
             ("Objective", _E(_objective_text(run))),
             (f"{'Epochs' if run.one_shot else 'Trials'} ({len(run.trials)})", badges),
             ("Search time", _E(format_seconds(run.span_s()))), ("Started", _E(started))]
    best = run.best()
    if best is not None:
        facts.append(("Best score", ", ".join(f"{_E(m)} {_metric(m, v)}"
                                             for m, v in _scores_of(run, best))))
    final = run.final or {}
    if "test_accuracy" in final:
        facts.append(("Final test accuracy", _fmt(final["test_accuracy"])))
    body = _facts(facts)
    if best is not None:
        what = (f"epoch {epoch_number(best, epoch_base(run.trials))}" if run.one_shot
                else f"trial {best.number}")
        body += (f'<div class="label">Best architecture ({_E(what)})</div>'
                 f'<pre class="arch">{_arch(best.arch)}</pre>')
    else:
        body += _na("no trial completed with a score")
    body += _defining(run) + _settings_details(run)
    return _Section("summary", "Summary", body)


# The settings of config.json that define a run, in the order the summary lists them.
_DEFINING = ("strategy", "population_size", "sample_size", "space", "channels", "cells",
             "space_args", "dataset", "data_path", "n_train", "val_fraction", "image_size",
             "evaluator", "objective", "minimize", "mnas_target", "mnas_latency",
             "mnas_constraint", "mnas_accuracy_scale", "latency_table", "prune", "epochs",
             "batch_size", "lr", "weight_decay", "label_smoothing", "drop_path", "aux_weight",
             "ema", "crop_padding", "hflip", "cutout", "seed", "preset", "budget",
             "budget_epochs", "budget_seconds", "timeout", "final_epochs")


def _defining(run: RunSummary) -> str:
    """Chips of the settings that define the run (config.json), and the network's input."""
    config = run.config
    strategy = str(config.get("strategy", ""))
    skip = set()
    if not strategy.startswith("evolution"):
        skip |= {"population_size", "sample_size"}
    if config.get("mnas_target") is None:
        skip |= {"mnas_constraint", "mnas_accuracy_scale"}
    if not config.get("minimize"):
        skip.add("minimize")
    chips = [(key, config[key]) for key in _DEFINING
             if key in config and key not in skip and config[key] is not None]
    evaluator = run.settings.get("evaluator")
    task = evaluator.get("task") if isinstance(evaluator, Mapping) else None
    shape = task.get("input_shape") if isinstance(task, Mapping) else None
    if isinstance(shape, list) and shape and all(isinstance(d, int) for d in shape):
        chips.append(("input", "×".join(map(str, shape))))
    if not chips:
        return ""
    text = "".join(f'<span class="kv"><b>{_E(key)}</b> {_E(_setting(value))}</span>'
                   for key, value in chips)
    return f'<div class="label">Settings that define the run</div><div class="kvs">{text}</div>'


def _setting(value: Any) -> str:
    if isinstance(value, bool) or value is None or isinstance(value, (list, dict)):
        text = json.dumps(value)
    else:
        text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _strategy(run: RunSummary) -> str:
    strategy = run.settings.get("strategy")
    spec = run.config.get("strategy")
    if not run.one_shot and isinstance(spec, str) and ":" in spec:  # as typed: random:screen=3
        return spec
    if run.one_shot and isinstance(strategy, Mapping):
        keys = ("order", "perturb", "epochs", "arch_lr")
        return describe_settings({"name": "DARTS", **{k: strategy[k] for k in keys if k in strategy}})
    return describe_settings(strategy if strategy is not None else run.config.get("strategy", "?"))


def _settings_details(run: RunSummary) -> str:
    parts = [("the search's identity (stored with it)", dict(run.settings))]
    if run.config:
        parts.append(("config.json", dict(run.config)))
    text = "".join(f'<div class="label">{_E(title)}</div><pre>{_E(json.dumps(data, indent=2))}</pre>'
                   for title, data in parts)
    notes = "".join(f'<p class="note">{_E(p)}.</p>' for p in run.problems.values())
    return f"<details><summary>All settings</summary>{text}</details>{notes}"


# --- 2-6. figures -------------------------------------------------------------------
def _progress(run: RunSummary, folder: Path) -> _Section:
    title = "Search progress"
    if not run.trials:
        return _Section("progress", title, _na("the run has no trials yet"))
    if run.one_shot:
        if not run.complete:
            return _Section("progress", title, _na("no epoch of the supernet finished"))
        path = plot_epochs(run, folder / "progress.png")
        return _Section("progress", title, _figure(
            path, "supernet accuracy per epoch",
            "The supernet's accuracies after each epoch, against wall-clock time (left) and "
            "epoch (right). A one-shot search trains one supernet; its rows are epochs."))
    path = plot_progress(run, folder / "progress.png")
    failed = ", ".join(s for s in ("failed", "pruned", "interrupted") if run.counts().get(s))
    caption = (f"Each complete trial's {_E(run.objective.name)} (dots) and the best so far (line), "
               "against wall-clock time (left) and trial number (right)."
               + (f" Trials without a score ({failed}) are marked along the bottom." if failed else ""))
    return _Section("progress", title, _figure(path, "search progress", caption))


def _scores(run: RunSummary, folder: Path) -> _Section:
    title = "Distribution of scores"
    if run.one_shot:
        return _Section("scores", title, _na("a one-shot search trains one supernet instead of "
                                             "scoring many architectures"))
    if not run.ranked():
        return _Section("scores", title, _na("no trial completed with a score"))
    path = plot_scores(run, folder / "scores.png")
    return _Section("scores", title, _figure(
        path, "histogram of scores", f"Over the {len(run.ranked())} complete trials; the "
        "orange line is the search's pick."))


def _pareto(run: RunSummary, folder: Path) -> _Section:
    from archsearch.reports.pareto import plot_pareto

    title = "Pareto front"
    pairs = run.pairs()
    if not pairs:
        return _Section("pareto", title, _na(f"the search optimises one metric "
                                             f"({run.objective.name})"))
    if not run.complete:
        return _Section("pareto", title, _na("no trial completed"))
    best, body = run.best(), ""
    for i, (first, second) in enumerate(pairs[:3]):
        path = folder / ("pareto.png" if i == 0 else f"pareto-{i + 1}.png")
        front = plot_pareto(run.trials, first, second, path, chosen=best,
                            target=getattr(run.objective, "target", None),
                            title=f"{first[0]} vs {second[0]}")
        body += _figure(path, f"Pareto front of {first[0]} and {second[0]}",
                        f"{len(front)} non-dominated trials of {_E(first[0])} and "
                        f"{_E(second[0])}; the star is the search's pick.")
    return _Section("pareto", title, body)


def _cells(run: RunSummary, folder: Path) -> _Section:
    from archsearch.reports.draw import draw_architecture
    from archsearch.spaces import create_space

    title = "Best architecture"
    best = run.best()
    if best is None:
        return _Section("cells", title, _na("no trial completed with a score"))
    settings = run.settings.get("space")
    try:
        if not isinstance(settings, Mapping) or not isinstance(settings.get("name"), str):
            raise InvalidParameterError("the store does not name the search space")
        space = create_space(settings["name"], **{k: v for k, v in settings.items() if k != "name"})
        path = draw_architecture(space, space.parse(best.arch), folder / "cells.png")
    except (ArchSearchError, TypeError, ValueError) as err:
        reason = " ".join(str(err).split()) or type(err).__name__
        return _Section("cells", title, _na(f"its cells cannot be drawn: {reason.rstrip('.')}"))
    return _Section("cells", title, _figure(path, "cells of the best architecture",
                                            "Edges are coloured by operation."))


def _training(run: RunSummary, folder: Path) -> _Section:
    title = "Final training"
    final = run.final
    if final is None:
        why = run.problems.get("metrics.json") or (
            f"the best architecture was not trained to the end (run 'archsearch train "
            f"--run-dir {run.path}')")
        return _Section("training", title, _na(why))
    facts = [(label, _fmt(final.get(key))) for key, label in (
        ("test_accuracy", "Test accuracy"), ("test_loss", "Test loss"), ("epochs", "Epochs"),
        ("params", "Parameters")) if key in final]
    facts.append(("Training time", _E(format_seconds(_number(final.get("train_seconds"))))))
    body = _facts(facts)
    best = run.best()
    if isinstance(final.get("arch"), str) and best is not None and final["arch"] != best.arch:
        body += ('<div class="label">Trained architecture (not the search\'s best)</div>'
                 f'<pre class="arch">{_arch(final["arch"])}</pre>')
    history = usable_history(final)
    if not history:
        return _Section("training", title, body + _na(
            "final/metrics.json has no per-epoch history (it is written by newer versions "
            "of 'archsearch train')"))
    test = _number(final.get("test_accuracy"))
    path = plot_training(history, folder / "training.png", test_accuracy=test)
    return _Section("training", title, body + _figure(
        path, "final training curves",
        f"{len(history)} epoch{'' if len(history) == 1 else 's'} on training + validation data."))


def _number(value: Any) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


# --- 7. tables ----------------------------------------------------------------------
_EXTRA = ("params", "params_m", "flops", "val_loss", "latency_ms")


def _top(run: RunSummary, top: int) -> _Section:
    if run.one_shot:
        return _Section("top", "Supernet epochs", _epochs_table(run))
    title = f"Top {top} trials"
    ranked = run.ranked()
    if not ranked:
        return _Section("top", title, _na("no trial completed with a score"))
    shown = ranked[:top]
    metrics = [m for m, _ in _scores_of(run, shown[0])]
    metrics += [m for m in _EXTRA if m not in metrics and any(m in t.values for t in shown)]
    front = {t.number for t in run.front()}
    best = run.best()
    head = [("Rank", True), ("Trial", True), *((m, True) for m in metrics)]
    head += [("Pareto", False)] if front else []
    head += [("Seconds", True), ("Architecture", False)]
    rows = []
    for rank, t in enumerate(shown, 1):
        cells = [str(rank), str(t.number), *(_metric(m, t.values.get(m)) for m in metrics)]
        cells += (["★" if t.number in front else ""] if front else [])
        cells += [_seconds(t.duration_s),
                  f'<span class="arch">{_arch(t.arch)}</span>']
        rows.append(("best" if best is not None and t.number == best.number else "", cells))
    note = (f'<p class="note">The best {len(shown)} of {len(ranked)} complete trials by '
            f"{_E(run.objective.name)}"
            + (" (the first objective; ★ marks the Pareto front over all of them)" if front else "")
            + ". The highlighted row is the search's pick.</p>")
    return _Section("top", title, note + _table(head, rows))


def _epochs_table(run: RunSummary) -> str:
    if not run.trials:
        return _na("no epoch of the supernet finished")
    metrics = ["val_accuracy", "train_accuracy", "skip_share", "none_share", "hessian_ev",
               "epoch_seconds"]
    metrics = [m for m in metrics if any(m in t.values for t in run.trials)]
    head = [("Epoch", True), *((m, True) for m in metrics), ("Derived architecture", False)]
    base = epoch_base(run.trials)
    rows = [("", [str(epoch_number(t, base)), *(_fmt(t.values.get(m)) for m in metrics),
                  f'<span class="arch">{_arch(t.arch)}</span>']) for t in run.trials]
    return ('<p class="note">One row per epoch of the supernet: the architecture derived from '
            "its weights at that point.</p>" + _table(head, rows))


def _unscored(run: RunSummary) -> _Section:
    others = [t for t in run.trials if t.state is not TrialState.COMPLETE]
    head = [("Trial", True), ("State", False), ("Seconds", True), ("Error", False),
            ("Architecture", False)]
    rows = [("", [str(t.number), _badge(t.state.value), _seconds(t.duration_s),
                  f'<span class="error">{_E(t.error or "")}</span>',
                  f'<span class="arch">{_arch(t.arch)}</span>']) for t in others[:200]]
    more = (f'<p class="note">The first 200 of {len(others)} are shown.</p>'
            if len(others) > 200 else "")
    return _Section("unscored", "Trials without a score", _table(head, rows) + more)


def _badge(state: str, count: int | None = None) -> str:
    text = state if count is None else f"{count} {state}"
    return f'<span class="badge {_E(state)}">{_E(text)}</span>'
