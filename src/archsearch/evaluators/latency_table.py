"""Predict a network's latency from a table of per-operation latencies (MnasNet-style).

A network is traced once: forward hooks on its leaf modules (those without children:
convolutions, norms, activations, pools, ...) and a torch function mode for the tensor
work done between them (residual sums, concatenations, flattening). Each call gets a key,
``type(extra_repr) <- input shapes -> output shape`` for a module and
``function(arguments) -> output shape`` for a function, with shapes at batch 1. The table
holds the median milliseconds of each key, measured on its own after a warm-up, and
measures keys it has not seen when it first meets them. The tracing, and the replays that
time each call, are in :mod:`archsearch.evaluators._op_trace`.

Per-operation times miss the Python and framework work around them (container modules,
the forward code), so predictions go through a linear calibration,
``latency ~ a * sum(entry ms) + b * n_leaves + c``, fitted by least squares (of the
relative error) on a few networks whose whole forward pass is also measured. Timings on a
shared machine are noisy and the two features are nearly collinear, so the fit may keep
only some coefficients (``a``; ``a`` and ``c``; or none), whichever predicts held-out
networks best.
"""

from __future__ import annotations

import json
import math
import platform
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from archsearch._utils.validation import check_int
from archsearch.errors import ArchSearchError, InvalidParameterError
from archsearch.evaluators._op_trace import OpTrace as OpTrace
from archsearch.evaluators._op_trace import _model_device, _time_ms, trace_ops
from archsearch.evaluators.base import Evaluator, TrialContext
from archsearch.evaluators.cost import measure_latency_ms
from archsearch.spaces.base import SearchSpace
from archsearch.types import Architecture, Objective

__all__ = ["FORMS", "Calibration", "LatencyLookup", "LatencyTable", "LatencyTableError",
           "PredictionError", "build_latency_table", "describe_device", "fit_calibration",
           "measure_networks_ms", "prediction_error", "trace_ops"]

FORMAT = "archsearch.latency_table"
VERSION = 1


class LatencyTableError(ArchSearchError, ValueError):
    """A latency table file is malformed."""


# --- measuring whole networks -----------------------------------------------------
def measure_networks_ms(models: Sequence[nn.Module], input_shape: Sequence[int], *, batch_size: int = 1,
                        n_rounds: int = 3, n_warmup: int = 5, n_repeat: int = 30) -> list[float]:
    """:func:`measure_latency_ms` of each model, the median of ``n_rounds`` rounds over all.

    Example:
        >>> from torch import nn
        >>> ms = measure_networks_ms([nn.Linear(4, 2), nn.Linear(4, 8)], (4,), n_rounds=2)
        >>> len(ms), min(ms) > 0
        (2, True)
    """
    rounds = [[measure_latency_ms(m, input_shape, batch_size=batch_size, n_warmup=n_warmup,
                                  n_repeat=n_repeat) for m in models] for _ in range(n_rounds)]
    return [statistics.median(samples) for samples in zip(*rounds)]


# --- the table ---------------------------------------------------------------------
@dataclass(frozen=True)
class Calibration:
    """``latency_ms = a * sum(entry ms) + b * n_leaves + c``; the identity by default.

    Args:
        a, b, c: the coefficients.
        n_models: how many whole networks they were fitted on.
        form: which coefficients were fitted (:data:`FORMS`); the others are 0
            (``a`` is 1 for ``"identity"``).
    """

    a: float = 1.0
    b: float = 0.0
    c: float = 0.0
    n_models: int = 0
    form: str = "identity"

    def apply(self, sum_ms: float, n_leaves: int) -> float:
        """The calibrated latency of a network with these features."""
        return self.a * sum_ms + self.b * n_leaves + self.c


FORMS: dict[str, tuple[int, ...]] = {"identity": (), "scale": (0,), "affine": (0, 2), "full": (0, 1, 2)}
"""Calibration forms, simplest first, by the columns of (sum ms, n_leaves, 1) they fit."""


def _fit(x: np.ndarray, y: np.ndarray, columns: tuple[int, ...]) -> np.ndarray:
    """(a, b, c) minimising the squared relative error, fitting only ``columns``."""
    coef = np.array([1.0, 0.0, 0.0])
    if columns:
        coef[0] = 0.0
        coef[list(columns)] = np.linalg.lstsq(x[:, columns] / y[:, None], np.ones_like(y), rcond=None)[0]
    return coef


def _loo_error(x: np.ndarray, y: np.ndarray, columns: tuple[int, ...]) -> float:
    """Mean relative error of each network predicted by a fit on the others."""
    errors = []
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        errors.append(abs(float(x[i] @ _fit(x[keep], y[keep], columns)) - y[i]) / y[i])
    return float(np.mean(errors))


def fit_calibration(features: Sequence[tuple[float, int]], measured_ms: Sequence[float]) -> Calibration:
    """The calibration form with the least leave-one-out error, fitted on all networks.

    A form is tried when at least two networks more than its coefficients are given and
    its fit on all of them keeps ``a > 0``, so that a few noisy timings of networks whose
    two features are nearly proportional cannot buy a wild fit over the plain sum.

    Example:
        >>> cal = fit_calibration([(1.0, 3), (2.0, 5), (3.0, 9), (4.0, 8), (5.0, 12)],
        ...                       [2 * s + 0.1 * n + 0.5 for s, n in
        ...                        [(1.0, 3), (2.0, 5), (3.0, 9), (4.0, 8), (5.0, 12)]])
        >>> cal.form, round(cal.a, 6), round(cal.b, 6), round(cal.c, 6)
        ('full', 2.0, 0.1, 0.5)
    """
    x = np.array([[s, n, 1.0] for s, n in features], dtype=float)
    y = np.array(measured_ms, dtype=float)
    fits = {name: _fit(x, y, cols) for name, cols in FORMS.items()
            if not cols or len(y) >= len(cols) + 2}
    forms = [name for name, coef in fits.items() if coef[0] > 0]
    best = min(forms, key=lambda name: _loo_error(x, y, FORMS[name]))
    a, b, c = (float(v) for v in fits[best])
    return Calibration(a, b, c, len(y), best)


def describe_device(device: torch.device) -> str:
    """A human-readable name of the device latencies are measured on."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    cpu = platform.processor() or platform.machine()
    return f"{device} ({cpu}, {torch.get_num_threads()} threads)"


class LatencyTable:
    """Milliseconds per operation key on one device, with a calibration to whole networks.

    Args:
        input_shape: ``(C, H, W)`` of one network input; the default of every method.
        batch_size: batch size entries and calibration are measured at (keys use batch 1).
        device: where entries are measured; models must live there.
        n_warmup: calls before timing each entry.
        n_repeat: timed calls per entry (the median is kept).

    Example:
        >>> from torch import nn
        >>> table = LatencyTable((1, 8, 8), n_warmup=1, n_repeat=3)
        >>> net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 2))
        >>> table.measure(net), len(table), table.measure(net)
        (4, 4, 0)
        >>> table.predict(net) == sum(table.entries.values())
        True
    """

    def __init__(self, input_shape: Sequence[int], *, batch_size: int = 1, device: str = "cpu",
                 n_warmup: int = 3, n_repeat: int = 15) -> None:
        self.input_shape = tuple(int(s) for s in input_shape)
        self.batch_size = check_int("LatencyTable", "batch_size", batch_size, 1, 65_536)
        self.device = str(torch.device(device))
        self.device_name = describe_device(torch.device(device))
        self.torch_version = str(torch.__version__)
        # bounded: a garbled file must not make one prediction time for hours
        self.n_warmup = check_int("LatencyTable", "n_warmup", n_warmup, 0, 10_000)
        self.n_repeat = check_int("LatencyTable", "n_repeat", n_repeat, 1, 10_000)
        self.entries: dict[str, float] = {}
        self.calibration = Calibration()

    def __len__(self) -> int:
        return len(self.entries)

    def _input(self, model: nn.Module, input_shape: Sequence[int] | None, batch: int) -> Tensor:
        device = _model_device(model, torch.device(self.device))
        if device != torch.device(self.device):
            raise InvalidParameterError(
                f"The model is on {device} but this latency table measures on {self.device}; "
                f"move it with model.to({self.device!r}).")
        shape = self.input_shape if input_shape is None else tuple(input_shape)
        return torch.randn(batch, *shape, device=device)

    def _features(self, model: nn.Module, input_shape: Sequence[int] | None) -> tuple[float, int]:
        """Measure the keys not yet in the table; return (sum of entry ms, n_leaves)."""
        trace = trace_ops(model, self._input(model, input_shape, 1))
        first: dict[str, int] = {}
        for i, key in enumerate(trace.keys):
            if key not in self.entries:
                first.setdefault(key, i)
        if first:
            x = self._input(model, input_shape, self.batch_size)
            replays = trace_ops(model, x, capture=first.values()).replays
            if len(replays) != len(first):
                raise RuntimeError("The model's calls changed between two forward passes; "
                                   "a latency table needs a network without data-dependent calls.")
            times = _time_ms([replays[i] for i in first.values()], torch.device(self.device),
                             self.n_warmup, self.n_repeat)
            self.entries.update(zip(first, times))
        return sum(self.entries[k] for k in trace.keys), trace.n_leaves

    def measure(self, model: nn.Module, input_shape: Sequence[int] | None = None) -> int:
        """Measure the keys of ``model`` that the table lacks; return how many were added."""
        before = len(self.entries)
        self._features(model, input_shape)
        return len(self.entries) - before

    def predict(self, model: nn.Module, input_shape: Sequence[int] | None = None) -> float:
        """Predicted milliseconds of one forward pass (unknown keys are measured first)."""
        return self.calibration.apply(*self._features(model, input_shape))

    def calibrate(self, models: Sequence[nn.Module], input_shape: Sequence[int] | None = None, *,
                  measured_ms: Sequence[float] | None = None, n_rounds: int = 3, n_warmup: int = 5,
                  n_repeat: int = 30) -> Calibration:
        """Fit and keep the calibration on whole-network latencies of at least 3 models.

        The form (which of a, b, c are fitted) is chosen by :func:`fit_calibration`.

        Args:
            models: networks on the table's device.
            input_shape: ``(C, H, W)``; default: the table's.
            measured_ms: their latencies, if already measured; else each is measured with
                :func:`measure_networks_ms` and the remaining arguments.
        """
        if len(models) < 3 or (measured_ms is not None and len(measured_ms) != len(models)):
            got = len(models) if measured_ms is None else f"{len(models)} and {len(measured_ms)} latencies"
            raise InvalidParameterError(
                f"LatencyTable.calibrate needs at least 3 models (and one latency each). Got {got}.")
        shape = self.input_shape if input_shape is None else tuple(input_shape)
        features = [self._features(model, shape) for model in models]
        if measured_ms is None:
            measured_ms = measure_networks_ms(models, shape, batch_size=self.batch_size,
                                              n_rounds=n_rounds, n_warmup=n_warmup, n_repeat=n_repeat)
        self.calibration = fit_calibration(features, measured_ms)
        return self.calibration

    # --- files ----------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The table as a JSON-ready dict (what :meth:`save` writes)."""
        return {"format": FORMAT, "version": VERSION, "device": self.device,
                "device_name": self.device_name, "torch": self.torch_version,
                "input_shape": list(self.input_shape), "batch_size": self.batch_size,
                "n_warmup": self.n_warmup, "n_repeat": self.n_repeat,
                "calibration": asdict(self.calibration), "entries": dict(self.entries)}

    def save(self, path: str | Path) -> None:
        """Write the table as JSON."""
        Path(path).write_text(json.dumps(self.to_json(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> LatencyTable:
        """Read a table written by :meth:`save`; raises LatencyTableError if malformed."""
        try:
            if Path(path).exists() and not Path(path).is_file():  # a pipe or device would block
                raise LatencyTableError(f"Cannot read latency table {str(path)!r}: it is not a "
                                        "regular file.")
            data = json.loads(Path(path).read_text())
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
            raise LatencyTableError(f"Malformed latency table {str(path)!r}: not JSON ({err}).") from None
        except OSError as err:
            raise LatencyTableError(f"Cannot read latency table {str(path)!r}: "
                                    f"{err.strerror or err}.") from None
        try:
            return cls._from_json(data)
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError, RuntimeError,
                AssertionError) as err:  # torch refuses an unknown or absent device with the last two
            why = f"missing field {err}" if isinstance(err, KeyError) else str(err).splitlines()[0]
            raise LatencyTableError(f"Malformed latency table {str(path)!r}: {why}.") from None

    @classmethod
    def _from_json(cls, data: Any) -> LatencyTable:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"expected a JSON object with format {FORMAT!r}")
        if type(data["version"]) is not int or data["version"] != VERSION:
            raise ValueError(f"version {data['version']!r} is not {VERSION}")
        shape = data["input_shape"]
        if (not isinstance(shape, list) or not 1 <= len(shape) <= 4
                or not all(type(v) is int and 1 <= v <= _MAX_SIDE for v in shape)
                or math.prod(shape) > _MAX_INPUT):
            raise ValueError(f"input_shape must be 1 to 4 ints in [1, {_MAX_SIDE}] with at most "
                             f"{_MAX_INPUT} values in all, e.g. [3, 32, 32]; got {shape!r}")
        device = data["device"]
        if not isinstance(device, str) or torch.device(device).type not in _DEVICE_TYPES:
            raise ValueError(f"device must be one of {', '.join(_DEVICE_TYPES)} (e.g. 'cpu', "
                             f"'cuda:0'); got {device!r}")
        table = cls(shape, batch_size=data["batch_size"], device=device,
                    n_warmup=data["n_warmup"], n_repeat=data["n_repeat"])
        table.device_name, table.torch_version = str(data["device_name"]), str(data["torch"])
        entries = data["entries"]
        if not isinstance(entries, dict):
            raise ValueError("entries must be a JSON object of operation key: milliseconds")
        bad = [k for k, v in entries.items() if not _is_number(v) or not 0 <= v <= _MAX_MS]
        if bad:
            raise ValueError(f"entry {bad[0]!r} must be a finite number of milliseconds in "
                             f"[0, {_MAX_MS:g}]")
        table.entries = {str(k): float(v) for k, v in entries.items()}
        cal = data["calibration"]
        if not isinstance(cal, dict):
            raise ValueError("calibration must be a JSON object with a, b, c, n_models and form")
        if cal["form"] not in FORMS:
            raise ValueError(f"calibration form {cal['form']!r} is not one of {list(FORMS)}")
        for name in ("a", "b", "c"):  # a fit never gives a <= 0 (see fit_calibration)
            value = cal[name]
            if name == "a" and not (_is_number(value) and 0 < value <= _MAX_MS):
                raise ValueError(f"calibration 'a' must be a finite number > 0 (at most "
                                 f"{_MAX_MS:g}); got {value!r}")
            if not (_is_number(value) and -_MAX_MS <= value <= _MAX_MS):
                raise ValueError(f"calibration {name!r} must be a finite number in "
                                 f"[{-_MAX_MS:g}, {_MAX_MS:g}]; got {value!r}")
        if type(cal["n_models"]) is not int or cal["n_models"] < 0:
            raise ValueError(f"calibration 'n_models' must be an int >= 0; got {cal['n_models']!r}")
        table.calibration = Calibration(float(cal["a"]), float(cal["b"]), float(cal["c"]),
                                        int(cal["n_models"]), str(cal["form"]))
        return table


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


_MAX_MS = 1e9  # milliseconds of one entry or coefficient: 11 days, so no sum overflows
_MAX_SIDE = 65_536
_MAX_INPUT = 1 << 26  # values of one input: a table's shape must not ask for gigabytes
_DEVICE_TYPES = ("cpu", "cuda", "mps")


# --- building, checking, evaluating ------------------------------------------------
def _build(space: SearchSpace, arch: Architecture, table: LatencyTable,
           input_shape: Sequence[int], n_classes: int) -> nn.Module:
    return space.build(arch, input_shape, n_classes).to(table.device)


def build_latency_table(space: SearchSpace, input_shape: Sequence[int], n_classes: int, *,
                        n_archs: int = 20, n_calibrate: int = 10, seed: int = 0, batch_size: int = 1,
                        device: str = "cpu", n_warmup: int = 3, n_repeat: int = 15) -> LatencyTable:
    """A table filled from the operations of ``n_archs`` random architectures of ``space``.

    The first ``n_calibrate`` of them (at least 3) also calibrate it.

    Example:
        >>> import archsearch
        >>> space = archsearch.create_space("nb201", channels=2, cells_per_stage=1)
        >>> table = build_latency_table(space, (1, 8, 8), 10, n_archs=4, n_calibrate=3,
        ...                             n_warmup=0, n_repeat=2)
        >>> len(table) > 10, table.calibration.n_models
        (True, 3)
    """
    check_int("build_latency_table", "n_calibrate", n_calibrate, 3)
    if isinstance(n_archs, bool) or not isinstance(n_archs, int) or n_archs < n_calibrate:
        raise InvalidParameterError(
            f"The 'n_archs' parameter of build_latency_table must be an int >= "
            f"n_calibrate={n_calibrate}. Got {n_archs!r} instead.")
    table = LatencyTable(input_shape, batch_size=batch_size, device=device,
                         n_warmup=n_warmup, n_repeat=n_repeat)
    rng = np.random.default_rng(seed)
    models = [_build(space, space.sample(rng), table, input_shape, n_classes) for _ in range(n_archs)]
    for model in models:
        table.measure(model)
    table.calibrate(models[:n_calibrate], n_rounds=3, n_warmup=n_warmup, n_repeat=n_repeat)
    return table


@dataclass(frozen=True)
class PredictionError:
    """Predicted against measured latencies of some architectures."""

    predicted_ms: tuple[float, ...]
    measured_ms: tuple[float, ...]

    @property
    def errors_pct(self) -> tuple[float, ...]:
        """Absolute errors, in percent of the measured latency."""
        return tuple(abs(p - m) / m * 100 for p, m in zip(self.predicted_ms, self.measured_ms))

    @property
    def median_pct(self) -> float:
        """The median of :attr:`errors_pct`."""
        return statistics.median(self.errors_pct)

    @property
    def max_pct(self) -> float:
        """The largest of :attr:`errors_pct`."""
        return max(self.errors_pct)


def prediction_error(table: LatencyTable, space: SearchSpace, archs: Iterable[Architecture], *,
                     n_classes: int = 10, input_shape: Sequence[int] | None = None,
                     n_rounds: int = 3, n_warmup: int = 5, n_repeat: int = 30) -> PredictionError:
    """Compare ``table.predict`` with the measured latency of each architecture.

    Latencies are measured with :func:`measure_networks_ms`: the median of ``n_rounds``
    calls of :func:`~archsearch.evaluators.measure_latency_ms` per network.
    """
    shape = table.input_shape if input_shape is None else tuple(input_shape)
    models = [_build(space, arch, table, shape, n_classes) for arch in archs]
    if not models:
        raise InvalidParameterError("prediction_error needs at least one architecture. Got none.")
    predicted = [table.predict(model, shape) for model in models]
    measured = measure_networks_ms(models, shape, batch_size=table.batch_size, n_rounds=n_rounds,
                                   n_warmup=n_warmup, n_repeat=n_repeat)
    return PredictionError(tuple(predicted), tuple(measured))


class LatencyLookup(Evaluator):
    """Score an architecture by its latency predicted from a :class:`LatencyTable`.

    Operations the table lacks are measured when first met and kept in the table.

    Args:
        table: a table, or the path of one saved with :meth:`LatencyTable.save`.
        n_classes: outputs of the built networks.
        input_shape: ``(C, H, W)`` of one input; default: the table's.

    Example:
        >>> import archsearch
        >>> space = archsearch.create_space("nb201", channels=2, cells_per_stage=1)
        >>> ev = LatencyLookup(LatencyTable((1, 8, 8), n_warmup=0, n_repeat=2), n_classes=10)
        >>> ev.setup(space)
        >>> arch = space.parse("|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|avg_pool_3x3~2|")
        >>> ev.evaluate(arch, archsearch.TrialContext(0, seed=0))["latency_ms_predicted"] > 0
        True
    """

    name = "latency_table"
    objectives = (Objective("latency_ms_predicted", "minimize"),)

    def __init__(self, table: LatencyTable | str | Path, n_classes: int = 10,
                 input_shape: Sequence[int] | None = None) -> None:
        self.table = table
        self.n_classes = n_classes
        self.input_shape = input_shape

    def setup(self, space: SearchSpace) -> None:
        super().setup(space)
        check_int("LatencyLookup", "n_classes", self.n_classes, 1)
        self._table = self.table if isinstance(self.table, LatencyTable) else LatencyTable.load(self.table)
        self._shape = self._table.input_shape if self.input_shape is None else tuple(self.input_shape)

    def evaluate(self, arch: Architecture, ctx: TrialContext) -> dict[str, float]:
        model = _build(self.space, arch, self._table, self._shape, self.n_classes)
        return {"latency_ms_predicted": self._table.predict(model, self._shape)}

    def config(self) -> dict[str, Any]:
        table = getattr(self, "_table", None)
        if table is None:
            table = self.table if isinstance(self.table, LatencyTable) else LatencyTable.load(self.table)
        shape = table.input_shape if self.input_shape is None else tuple(self.input_shape)
        return {"name": self.name, "device": table.device_name, "torch": table.torch_version,
                "batch_size": table.batch_size, "input_shape": list(shape), "n_classes": self.n_classes,
                "calibration": asdict(table.calibration)}
