"""An ensemble of small MLPs that predicts an architecture's score, with its spread.

The ensemble is one batched network (each layer's weights hold one slice per member), so
training ``k`` members costs about as much as training one. Every fit starts from fresh
weights drawn from the predictor's seed and trains full-batch with Adam on standardised
scores, on one torch thread: the same rows and seed give the same predictions.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from torch import Tensor, nn

from archsearch._utils.seeding import torch_generator
from archsearch._utils.validation import check_float, check_int
from archsearch.errors import InvalidParameterError
from archsearch.spaces.base import SearchSpace
from archsearch.strategies.encodings import ArchEncoder
from archsearch.types import Architecture

__all__ = ["EnsemblePredictor"]


class _BatchedMLP(nn.Module):
    """``members`` MLPs with ReLU hidden layers, evaluated together with batched matmuls."""

    def __init__(self, members: int, sizes: Sequence[int], generator: torch.Generator) -> None:
        super().__init__()
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = 1.0 / math.sqrt(fan_in)  # nn.Linear's default initialisation
            w = (torch.rand(members, fan_in, fan_out, generator=generator) * 2 - 1) * bound
            b = (torch.rand(members, 1, fan_out, generator=generator) * 2 - 1) * bound
            self.weights.append(nn.Parameter(w))
            self.biases.append(nn.Parameter(b))

    def forward(self, x: Tensor) -> Tensor:
        """Predictions of every member for rows ``x`` (N, D): shape (members, N)."""
        h = x.unsqueeze(0).expand(len(self.weights[0]), -1, -1)
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)
            if i < last:
                h = torch.relu(h)
        return h.squeeze(-1)


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run tiny torch ops on one thread (more only cost, and change rounding)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class EnsemblePredictor:
    """Predicts scores of architectures from their encoding; an ensemble gives the spread.

    Args:
        space: the space of the architectures.
        encoding: ``"path"``, ``"onehot"`` or ``"both"`` (see :class:`ArchEncoder`).
        ensemble_size: members of the ensemble, each from its own initial weights.
        hidden_size: width of the hidden layers.
        n_layers: number of hidden layers.
        n_epochs: full-batch Adam steps per fit.
        lr: Adam learning rate.
        seed: the seed of every fit's initial weights.
        owner: the name parameter errors give as the parameters' owner (default: this class).

    Example:
        >>> import archsearch, numpy as np
        >>> space = archsearch.create_space("nb201")
        >>> archs = [space.sample(np.random.default_rng(i)) for i in range(30)]
        >>> scores = [a.values.count("nor_conv_3x3") for a in archs]  # a score to learn
        >>> predictor = EnsemblePredictor(space, seed=0).fit(archs, scores)
        >>> mean, std = predictor.predict(archs)
        >>> bool(np.corrcoef(mean, scores)[0, 1] > 0.9), mean.shape == std.shape
        (True, True)
    """

    def __init__(self, space: SearchSpace, encoding: str = "path", ensemble_size: int = 5,
                 hidden_size: int = 32, n_layers: int = 2, n_epochs: int = 100,
                 lr: float = 0.01, seed: int = 0, owner: str | None = None) -> None:
        owner = owner or type(self).__name__
        check_int(owner, "ensemble_size", ensemble_size, 1)
        check_int(owner, "hidden_size", hidden_size, 1)
        check_int(owner, "n_layers", n_layers, 1)
        check_int(owner, "n_epochs", n_epochs, 1)
        check_float(owner, "lr", lr, 0.0, low_open=True)
        self.encoder = ArchEncoder(space, encoding, owner)
        self.ensemble_size, self.hidden_size, self.n_layers = ensemble_size, hidden_size, n_layers
        self.n_epochs, self.lr, self.seed = n_epochs, lr, seed
        self._model: _BatchedMLP | None = None
        self._shift, self._scale = 0.0, 1.0

    def fit(self, archs: Sequence[Architecture], scores: Sequence[float]) -> EnsemblePredictor:
        """Train every member from scratch on these rows; returns self."""
        if len(archs) != len(scores) or len(archs) < 2:
            raise InvalidParameterError(
                f"EnsemblePredictor.fit needs two or more architectures, each with a score. "
                f"Got {len(archs)} architectures and {len(scores)} scores instead.")
        y = np.asarray(scores, dtype=np.float64)
        self._shift = float(y.mean())
        self._scale = float(y.std()) or 1.0
        self.encoder.fit(archs)
        x = torch.from_numpy(self.encoder.transform(archs))
        target = torch.from_numpy(((y - self._shift) / self._scale).astype(np.float32))
        with _one_thread():
            sizes = [x.shape[1], *([self.hidden_size] * self.n_layers), 1]
            model = _BatchedMLP(self.ensemble_size, sizes, torch_generator(self.seed))
            optimizer = torch.optim.Adam(model.parameters(), lr=self.lr, foreach=True)
            for _ in range(self.n_epochs):
                optimizer.zero_grad()
                loss = ((model(x) - target) ** 2).mean()
                loss.backward()
                optimizer.step()
        self._model = model
        return self

    def predict(self, archs: Sequence[Architecture]) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation over the members of each architecture's predicted score."""
        members = self.predict_members(archs)
        return members.mean(axis=0), members.std(axis=0)

    def predict_members(self, archs: Sequence[Architecture]) -> np.ndarray:
        """Every member's predicted score of each architecture: shape (ensemble_size, len(archs))."""
        if self._model is None:
            raise InvalidParameterError("EnsemblePredictor.fit must come before predict.")
        x = torch.from_numpy(self.encoder.transform(archs))
        with _one_thread(), torch.no_grad():
            out = self._model(x).double().numpy()
        return out * self._scale + self._shift  # type: ignore[no-any-return]
