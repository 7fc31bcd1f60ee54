"""``archsearch report``: the page about a run directory, on real small runs."""

import base64
import contextlib
import html
import io
import json
import re
import shutil
import sqlite3
import sys
from html.parser import HTMLParser

import numpy as np
import pytest

import archsearch
from archsearch.cli.main import main
from archsearch.errors import StoreError
from archsearch.reports import write_report
from archsearch.storage import SQLiteStore
from archsearch.types import TrialState

pytest.importorskip("matplotlib")

NAME = "<script>alert('name')</script>"
ERROR = "RuntimeError('loss <b>nan</b> & worse')"
SMALL = ["--dataset", "digits", "--space", "nb201", "--channels", "4", "--cells", "1",
         "--n-train", "300", "--threads", "1"]
SECTIONS = ("summary", "progress", "scores", "pareto", "cells", "training", "top")


def run_cli(*argv):
    """``archsearch ARGV`` in this process; returns (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def history(n):
    """``final/metrics.json``'s per-epoch history, as ``archsearch train`` writes it."""
    return [{"epoch": e, "loss": 2.0 / e, "train_accuracy": 0.2 * e, "lr": 0.05 / e,
             "seconds": 0.5 * e} for e in range(1, n + 1)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Evolution on digits with a failed trial and a final training with a history."""
    run = tmp_path_factory.mktemp("report") / "trained"
    assert run_cli("search", *SMALL, "--budget", "4", "--epochs", "1", "--name", NAME,
                   "--run-dir", str(run))[0] == 0
    store = SQLiteStore(run / "store.db")
    space = archsearch.create_space("nb201", channels=4, cells_per_stage=1)
    trial = store.start_trial(1, space.sample(np.random.default_rng(7)))
    store.finish_trial(trial.id, TrialState.FAILED, error=ERROR)
    store.close()
    assert run_cli("train", "--run-dir", str(run), "--epochs", "1", "--threads", "1")[0] == 0
    metrics = json.loads((run / "final" / "metrics.json").read_text())
    metrics["history"] = history(3)
    (run / "final" / "metrics.json").write_text(json.dumps(metrics))
    return run


@pytest.fixture(scope="module")
def multi(tmp_path_factory):
    """Two objectives scored by training-free proxies; never trained to the end."""
    run = tmp_path_factory.mktemp("report") / "multi"
    assert run_cli("search", *SMALL, "--strategy", "random", "--evaluator", "proxy:naswot,params",
                   "--objective", "naswot,params:min", "--batch-size", "32", "--budget", "6",
                   "--run-dir", str(run))[0] == 0
    return run


class Page(HTMLParser):
    """The sections, images and table rows of a report."""

    def __init__(self, text):
        super().__init__()
        self.sections, self.images, self.rows, self.scripts = {}, [], {}, 0
        self._section, self._row, self._cell = None, None, None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self._section = attrs["id"]
            self.sections[self._section] = ""
        elif tag == "img":
            self.images.append(attrs)
        elif tag == "script":
            self.scripts += 1
        elif tag == "tr" and self._section:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(self._cell.strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.setdefault(self._section, []).append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._section:
            self.sections[self._section] += data
        if self._cell is not None:
            self._cell += data


def table(page, section):
    """The rows of a section's table as dicts keyed by the header."""
    head, *rows = page.rows[section]
    return [dict(zip(head, row)) for row in rows]


def test_every_section_and_every_image_is_an_embedded_png(trained):
    path = write_report(trained)
    assert path == trained / "report" / "index.html"
    page = Page(path.read_text())
    assert all(s in page.sections for s in SECTIONS) and "unscored" in page.sections
    assert "Not available because the search optimises one metric" in page.sections["pareto"]
    assert "Not available" not in "".join(page.sections[s] for s in SECTIONS if s != "pareto")
    files = {img["data-file"] for img in page.images}
    assert files == {"progress.png", "scores.png", "cells.png", "training.png"}
    for img in page.images:
        prefix = "data:image/png;base64,"
        assert img["src"].startswith(prefix) and img["alt"]
        data = base64.b64decode(img["src"][len(prefix):], validate=True)
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert data == (path.parent / img["data-file"]).read_bytes()  # the file beside it
    summary = page.sections["summary"]
    for text in ("digits", "nb201", "evolution", "partial training", "val_accuracy (max)",
                 "4 complete", "1 failed", "Final test accuracy"):
        assert text in summary, text
    assert "3 epochs on training + validation data" in page.sections["training"]


def test_top_table_is_sorted_by_score_and_honours_top(trained):
    rows = table(Page(write_report(trained, trained / "all").read_text()), "top")
    scores = [float(r["val_accuracy"]) for r in rows]
    assert len(rows) == 4 and scores == sorted(scores, reverse=True)
    assert [r["Rank"] for r in rows] == ["1", "2", "3", "4"]
    best = json.loads((trained / "best.json").read_text())
    assert rows[0]["Trial"] == str(best["trial"]) and rows[0]["Architecture"] == best["arch"]

    code, out, _ = run_cli("report", str(trained), "--top", "2", "--out", str(trained / "two"))
    assert code == 0 and out.strip() == str(trained / "two" / "index.html")
    page = Page((trained / "two" / "index.html").read_text())
    assert [r["Trial"] for r in table(page, "top")] == [r["Trial"] for r in rows[:2]]
    assert (trained / "two" / "progress.png").is_file()


def test_strings_from_the_store_are_escaped(trained):
    text = write_report(trained, trained / "escaped").read_text()
    assert NAME not in text and "<b>nan</b>" not in text
    assert "&lt;script&gt;alert(&#x27;name&#x27;)&lt;/script&gt;" in text
    page = Page(text)
    assert page.scripts == 1  # the page's own, allowed by hash in its Content-Security-Policy
    assert re.search(r"script-src 'sha256-[A-Za-z0-9+/]+=*'", text)
    assert "http://" not in text and "https://" not in text
    failed = table(page, "unscored")
    assert failed[0]["State"] == "failed" and failed[0]["Error"] == ERROR


def test_pareto_front_and_no_final_training(multi):
    page = Page(write_report(multi).read_text())
    assert {img["data-file"] for img in page.images} == {"progress.png", "scores.png",
                                                          "pareto.png", "cells.png"}
    assert "non-dominated trials of naswot and params" in page.sections["pareto"]
    assert "Not available because the best architecture was not trained" in \
        page.sections["training"]
    rows = table(page, "top")
    assert [float(r["naswot"]) for r in rows] == sorted((float(r["naswot"]) for r in rows),
                                                        reverse=True)
    assert any(r["Pareto"] == "★" for r in rows)


def test_final_training_without_history_says_so(trained, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained, run, ignore=shutil.ignore_patterns("report", "all", "two", "escaped"))
    metrics = json.loads((run / "final" / "metrics.json").read_text())
    del metrics["history"]
    (run / "final" / "metrics.json").write_text(json.dumps(metrics))
    page = Page(write_report(run).read_text())
    assert "Test accuracy" in page.sections["training"]
    assert "has no per-epoch history" in page.sections["training"]
    assert "training.png" not in {img["data-file"] for img in page.images}


def test_darts_run_shows_its_epochs(tmp_path):
    run = tmp_path / "darts"
    assert run_cli("search", "--strategy", "darts:hessian_iters=1", "--epochs", "2",
                   "--dataset", "digits", "--n-train", "48", "--channels", "2", "--cells", "1",
                   "--batch-size", "24", "--threads", "1", "--run-dir", str(run))[0] == 0
    page = Page(write_report(run).read_text())
    assert {img["data-file"] for img in page.images} == {"progress.png", "cells.png"}
    assert "a one-shot search trains one supernet" in page.sections["scores"]
    assert [r["Epoch"] for r in table(page, "top")] == ["1", "2"]
    assert "DARTS" in page.sections["summary"]


def test_a_space_without_cells_says_it_cannot_be_drawn(tmp_path):
    store = SQLiteStore(tmp_path / "store.db")
    space = archsearch.create_space("chain", depth=3)
    exp = store.create_experiment("chain", {"space": {"name": "chain", **space.config()}})
    for i in range(3):
        trial = store.start_trial(exp, space.sample(np.random.default_rng(i)))
        store.finish_trial(trial.id, TrialState.COMPLETE, {"val_accuracy": 0.1 * i})
    store.close()
    page = Page(write_report(tmp_path).read_text())
    assert "Not available because its cells cannot be drawn" in page.sections["cells"]
    assert "Not available because the best architecture was not trained" in \
        page.sections["training"]


def test_bad_run_dirs_and_options_are_one_line_errors(tmp_path, monkeypatch):
    with pytest.raises(StoreError, match="No archsearch run in .*: it does not exist"):
        write_report(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    for run_dir, message in [(tmp_path, "has no store.db"), (tmp_path / "file", "is a file")]:
        code, out, err = run_cli("report", str(run_dir))
        assert code == 1 and not out and message in err.splitlines()[0]
        assert "Traceback" not in err
    code, _, err = run_cli("report", str(tmp_path), "--top", "0")
    assert code == 1 and "--top must be an int >= 1" in err
    SQLiteStore(tmp_path / "store.db").close()  # a store without any search
    with pytest.raises(StoreError, match="holds no search yet"):
        write_report(tmp_path)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    (tmp_path / "other").mkdir()
    shutil.copy(tmp_path / "store.db", tmp_path / "other" / "store.db")
    store = SQLiteStore(tmp_path / "other" / "store.db")
    store.create_experiment("x", {})
    store.close()
    with pytest.raises(ImportError, match=r"pip install 'archsearch\[plot\]'"):
        write_report(tmp_path / "other")
    assert not (tmp_path / "other" / "report").exists()


def test_title_names_the_run_directory_and_what_it_searched(trained):
    text = write_report(trained, trained / "titled").read_text()
    (title,) = re.findall(r"<h1>(.*?)</h1>", text)
    assert title.startswith("trained") and "nb201" in title and "digits" in title
    assert "<title>trained" in text


def test_summary_shows_the_settings_that_define_the_run(trained):
    summary = Page(write_report(trained, trained / "settings").read_text()).sections["summary"]
    for text in ("channels 4", "cells 1", "n_train 300", "epochs 1", "seed 0", "budget 4",
                 "strategy evolution", "input 1×8×8"):
        assert text in summary, text


def test_architectures_break_only_between_operations(trained):
    text = write_report(trained, trained / "wrapped").read_text()
    best = json.loads((trained / "best.json").read_text())["arch"]
    (shown,) = re.findall(r'<pre class="arch">(.*?)</pre>', text)
    assert shown.replace("<wbr>", "") == html.escape(best) and "+<wbr>" in shown
    pieces = {piece.strip("+|") for piece in shown.split("<wbr>")} - {""}
    assert pieces == set(best.replace("+", "|").split("|")) - {""}  # whole operations only
    css = re.search(r"(?m)^\.arch \{([^}]*)\}", text).group(1)
    assert "word-break: keep-all" in css and "overflow-wrap: normal" in css


def test_a_one_epoch_training_has_one_integer_epoch_tick(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    from archsearch.reports.plots import plot_training

    ticks = []
    save = Figure.savefig

    def savefig(fig, *args, **kwargs):
        fig.canvas.draw()
        ticks.extend([label.get_text() for label in ax.get_xticklabels()
                      if ax.get_xlim()[0] <= label.get_position()[0] <= ax.get_xlim()[1]]
                     for ax in fig.axes)
        return save(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    plot_training(history(1), tmp_path / "one.png", test_accuracy=0.5)
    assert ticks == [["1"], ["1"], ["1"]]
    ticks.clear()
    plot_training(history(12), tmp_path / "twelve.png")
    assert all(t and all(x.lstrip("−-").isdigit() for x in t) for t in ticks)


HOSTILE = "<script>alert(1)</script>"


def test_hostile_names_settings_and_architectures_are_escaped(trained, tmp_path):
    """Every string a run directory holds reaches the page as text, never as markup."""
    run = tmp_path / "<img src=x onerror=alert(9)>"
    shutil.copytree(trained, run)
    config = json.loads((run / "config.json").read_text())
    config.update({"strategy": f"evolution:note={HOSTILE}", "dataset": f"digits{HOSTILE}",
                   f"key{HOSTILE}": HOSTILE, "data_path": HOSTILE})
    (run / "config.json").write_text(json.dumps(config))
    final = json.loads((run / "final" / "metrics.json").read_text())
    final["arch"] = f"|{HOSTILE}~0|+|none~0|"
    (run / "final" / "metrics.json").write_text(json.dumps(final))
    best = json.loads((run / "best.json").read_text())["trial"]
    with sqlite3.connect(run / "store.db") as db:  # a trial that is not the best, and a failed one
        db.execute("UPDATE trials SET arch=? WHERE number=(SELECT MIN(number) FROM trials "
                   "WHERE number != ?)", (f"|{HOSTILE}~0|+|x~1|", best))
        db.execute("UPDATE trials SET arch=? WHERE state='failed'", (f"{HOSTILE}+{HOSTILE}",))
    text = write_report(run).read_text()
    assert "<script>alert" not in text and "<img src=x" not in text
    assert text.count("<img ") == 4 and text.count("<script") == 1
    assert "&lt;img src=x onerror=alert(9)&gt;" in text
    assert text.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 6


def test_flops_are_shown_with_a_unit(trained):
    rows = table(Page(write_report(trained, trained / "flops").read_text()), "top")
    assert rows and all(re.fullmatch(r"[\d.]+ [kMG]?FLOPs", r["flops"]) for r in rows), rows
