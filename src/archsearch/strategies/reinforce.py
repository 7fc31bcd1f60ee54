"""REINFORCE with an LSTM controller (Zoph & Le, ICLR 2017; details from ENAS, Pham et al. 2018)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from archsearch._utils.validation import check_float, check_int
from archsearch.spaces.base import SearchSpace
from archsearch.strategies.base import Strategy
from archsearch.types import Architecture, FrozenTrial, Objective

__all__ = ["Reinforce"]

_State = tuple[torch.Tensor, torch.Tensor]


class Controller(nn.Module):
    """An LSTM that emits one choice per decision, in order.

    Step ``t`` reads the embedding of the choice made at step ``t - 1`` (a learned start
    token at step 0), and a per-decision linear head turns the hidden state into logits.
    Each decision has its own embedding table and head, since choice counts differ.

    Args:
        n_choices: the number of choices of each decision, in order.
        hidden_size: width of the LSTM state and of the embeddings.
        temperature: divides the raw logits.
        tanh_constant: ``c`` in ``c * tanh(logits)``, which bounds the logits to [-c, c].
    """

    def __init__(self, n_choices: tuple[int, ...], hidden_size: int, temperature: float,
                 tanh_constant: float) -> None:
        super().__init__()
        self.n_choices = n_choices
        self.temperature = temperature
        self.tanh_constant = tanh_constant
        self.start = nn.Parameter(torch.zeros(1, hidden_size))
        self.cell = nn.LSTMCell(hidden_size, hidden_size)
        self.embeddings = nn.ModuleList(nn.Embedding(n, hidden_size) for n in n_choices)
        self.heads = nn.ModuleList(nn.Linear(hidden_size, n) for n in n_choices)
        for p in self.parameters():
            nn.init.uniform_(p, -0.1, 0.1)  # as in ENAS

    def logits(self, step: int, x: torch.Tensor,
               state: _State | None) -> tuple[torch.Tensor, _State]:
        """Logits of decision ``step`` given input ``x``; also the new LSTM state."""
        h, c = self.cell(x, state)
        raw = self.heads[step](h) / self.temperature
        return self.tanh_constant * torch.tanh(raw), (h, c)

    def first_input(self, batch: int) -> torch.Tensor:
        """The start token, repeated ``batch`` times."""
        return self.start.expand(batch, -1)

    def score(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced log-probability and entropy of each row of ``indices`` (B, T)."""
        x: torch.Tensor = self.first_input(indices.shape[0])
        state: _State | None = None
        log_prob = torch.zeros(indices.shape[0])
        entropy = torch.zeros(indices.shape[0])
        for t in range(len(self.n_choices)):
            logits, state = self.logits(t, x, state)
            log_p = torch.log_softmax(logits, dim=-1)
            log_prob = log_prob + log_p.gather(1, indices[:, t : t + 1]).squeeze(1)
            entropy = entropy - (log_p.exp() * log_p).sum(dim=-1)
            x = self.embeddings[t](indices[:, t])
        return log_prob, entropy


class Reinforce(Strategy):
    """NAS-RL: an LSTM controller trained with REINFORCE on the objective's score.

    Each ask runs the controller once, drawing every decision of the space from its
    softmax with the trial's numpy generator (never torch's global one), so equal
    controllers and generators give equal asks. Told trials (failed ones skipped) are
    collected; every ``batch_size`` of them make one update of
    ``-sum((reward - baseline) * log_prob) / batch_size - entropy_weight * mean(entropy)``
    with Adam and gradient-norm clipping. The reward is the raw score (higher is better):
    the baseline, an exponential moving average of rewards started at the first one,
    removes its offset, and Adam is insensitive to its scale. The advantages of a batch use
    the baseline from before the batch; the batch's rewards then enter the average in order.

    Logits are divided by ``temperature`` and then bounded by ``tanh_constant * tanh(.)``,
    the order of the ENAS code: the bound caps how sure the controller can get
    (``exp(2 * tanh_constant)`` between the likeliest and rarest choice), whatever the
    temperature.

    The controller's weights are initialised from ``seed`` (uniform in [-0.1, 0.1], as in
    ENAS) without touching torch's global generator. As updates depend only on the told
    trials and their order, resuming (``setup`` then ``tell`` of the finished trials in
    order) restores the controller, the optimiser and the baseline exactly; architectures
    told but not sampled by the current controller (e.g. re-served after an interruption)
    are used as if they were.

    Defaults follow ENAS where the setting carries over: a 64-wide LSTM, temperature 5,
    tanh constant 2.5, entropy weight 1e-4, Adam and an EMA baseline with decay 0.95 (ENAS
    uses 0.99 over thousands of samples; a search of hundreds of trials needs a quicker
    average), batches of 5. The learning rate is ours: on the NAS-Bench-201 table (budget
    100, 200 seeds; ``benchmarks/reinforce_tuning.py``) ENAS's 3.5e-3 barely moves the
    controller in 20 updates (no better than random search), 0.03 is best (0.01 and 0.1
    trail it), and at 0.03 the entropy weight (0 to 0.1) and baseline decay (0.8, 0.95)
    change nothing measurable while a lower temperature, a tighter or looser tanh bound
    and other batch sizes are worse.

    Args:
        hidden_size: width of the controller's LSTM.
        temperature: divides the logits before the tanh bound; higher explores more.
        tanh_constant: bound on the logits (``c * tanh``).
        entropy_weight: weight of the entropy bonus in the loss.
        lr: Adam learning rate.
        batch_size: told trials per update.
        baseline_decay: decay of the reward moving average, in [0, 1] (1 keeps the first reward).
        grad_clip: maximum gradient norm per update.

    Example:
        >>> import archsearch
        >>> strategy = archsearch.create_strategy("reinforce", lr=0.01)
        >>> strategy.setup(archsearch.create_space("nb201"), archsearch.Objective("acc"), seed=0)
        >>> import numpy as np
        >>> len(strategy.ask(np.random.default_rng(0)).values)
        6
    """

    name = "reinforce"

    def __init__(self, hidden_size: int = 64, temperature: float = 5.0,
                 tanh_constant: float = 2.5, entropy_weight: float = 1e-4, lr: float = 0.03,
                 batch_size: int = 5, baseline_decay: float = 0.95,
                 grad_clip: float = 5.0) -> None:
        self.hidden_size = hidden_size
        self.temperature = temperature
        self.tanh_constant = tanh_constant
        self.entropy_weight = entropy_weight
        self.lr = lr
        self.batch_size = batch_size
        self.baseline_decay = baseline_decay
        self.grad_clip = grad_clip

    def setup(self, space: SearchSpace, objective: Objective, seed: int) -> None:
        owner = type(self).__name__
        check_int(owner, "hidden_size", self.hidden_size, 1)
        check_float(owner, "temperature", self.temperature, 0.0, low_open=True)
        check_float(owner, "tanh_constant", self.tanh_constant, 0.0, low_open=True)
        check_float(owner, "entropy_weight", self.entropy_weight, 0.0)
        check_float(owner, "lr", self.lr, 0.0, low_open=True)
        check_int(owner, "batch_size", self.batch_size, 1)
        check_float(owner, "baseline_decay", self.baseline_decay, 0.0, 1.0)
        check_float(owner, "grad_clip", self.grad_clip, 0.0, low_open=True)
        super().setup(space, objective, seed)
        self.decisions = space.decisions()
        n_choices = tuple(len(d.choices) for d in self.decisions)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.controller = Controller(n_choices, self.hidden_size, float(self.temperature),
                                         float(self.tanh_constant))
        self.optimizer = torch.optim.Adam(self.controller.parameters(), lr=self.lr, foreach=True)
        self.baseline: float | None = None
        self.batch: list[tuple[np.ndarray, float]] = []
        self.n_updates = 0
        self._sampler: _NumpySampler | None = None  # rebuilt after each update

    def ask(self, rng: np.random.Generator) -> Architecture:
        if self._sampler is None:
            self._sampler = _NumpySampler(self.controller)
        return self.space.decode(self._sampler.sample(rng))

    def tell(self, trial: FrozenTrial) -> None:
        score = self.objective.score(trial.values)
        if score is None:
            return  # failed trials carry no reward
        self.batch.append((self.space.encode(self.space.parse(trial.arch)), score))
        if len(self.batch) >= self.batch_size:
            self._update()
            self.batch = []

    def _update(self) -> None:
        """One REINFORCE step on the collected batch; then fold its rewards into the baseline."""
        rewards = [reward for _, reward in self.batch]
        if self.baseline is None:
            self.baseline = rewards[0]
        advantage = torch.tensor([r - self.baseline for r in rewards])
        indices = torch.from_numpy(np.stack([idx for idx, _ in self.batch]))
        log_prob, entropy = self.controller.score(indices)
        loss = -(advantage * log_prob).sum() / len(rewards) - self.entropy_weight * entropy.mean()
        self.optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        nn.utils.clip_grad_norm_(self.controller.parameters(), self.grad_clip)
        self.optimizer.step()
        self._sampler = None
        for reward in rewards:
            self.baseline = self.baseline_decay * self.baseline + (1 - self.baseline_decay) * reward
        self.n_updates += 1

    def controller_state(self) -> dict[str, torch.Tensor]:
        """A copy of the controller's weights, by name."""
        return {k: v.detach().clone() for k, v in self.controller.state_dict().items()}

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "hidden_size": self.hidden_size,
                "temperature": self.temperature, "tanh_constant": self.tanh_constant,
                "entropy_weight": self.entropy_weight, "lr": self.lr,
                "batch_size": self.batch_size, "baseline_decay": self.baseline_decay,
                "grad_clip": self.grad_clip}


class _NumpySampler:
    """The controller's sampling pass in numpy, on a float64 copy of its weights.

    Sampling runs the LSTM on one row at a time; at that size torch's per-op overhead
    dominates, and numpy draws an architecture about ten times faster. The copy is taken
    after each update, so it always matches the controller.
    """

    def __init__(self, controller: Controller) -> None:
        def arr(t: torch.Tensor) -> np.ndarray:
            out: np.ndarray = t.detach().double().numpy().copy()
            return out

        cell = controller.cell
        self.start = arr(controller.start)[0]
        self.w_ih, self.w_hh = arr(cell.weight_ih).T, arr(cell.weight_hh).T
        self.bias = arr(cell.bias_ih) + arr(cell.bias_hh)
        self.heads = [(arr(h.weight).T, arr(h.bias)) for h in controller.heads
                      if isinstance(h, nn.Linear)]
        self.embeddings = [arr(e.weight) for e in controller.embeddings
                           if isinstance(e, nn.Embedding)]
        self.temperature, self.tanh_constant = controller.temperature, controller.tanh_constant

    def sample(self, rng: np.random.Generator) -> list[int]:
        """One choice per decision, drawn with ``rng``."""
        size = self.start.shape[0]
        x, h, c = self.start, np.zeros(size), np.zeros(size)
        indices: list[int] = []
        for (w, b), embedding in zip(self.heads, self.embeddings, strict=True):
            gates = x @ self.w_ih + h @ self.w_hh + self.bias  # torch's order: i, f, g, o
            i, f, g, o = (gates[k * size:(k + 1) * size] for k in range(4))
            c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
            h = _sigmoid(o) * np.tanh(c)
            logits = self.tanh_constant * np.tanh((h @ w + b) / self.temperature)
            probs = np.exp(logits - logits.max())
            indices.append(_draw(probs / probs.sum(), rng))
            x = embedding[indices[-1]]
        return indices


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _draw(probs: np.ndarray, rng: np.random.Generator) -> int:
    """An index drawn from ``probs`` by inverse CDF with one uniform draw of ``rng``."""
    cdf = np.cumsum(probs)
    return int(min(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"), len(probs) - 1))
