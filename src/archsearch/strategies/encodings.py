"""Feature vectors of architectures, for predictors of their scores.

Two encodings, from the space protocol alone:

* ``onehot``: one block per decision with more than one choice, a 1 at the chosen value.
  Every space has it.
* ``path``: the paths of the space's cells (:meth:`SearchSpace.cell_graphs`) from a cell
  input to the cell output, each named by its input and the operations along it, counted
  (BANANAS, White et al., AAAI 2021). On NAS-Bench-201 a path is a sequence of non-``none``
  operations from the cell input to the output. Spaces without cell graphs give no paths.

``both`` concatenates the two. The path vocabulary is the set of paths met in the rows an
encoder is fitted on (sorted, so the columns do not depend on the rows' order); paths never
seen in training carry no information for a predictor fitted on those rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from archsearch.errors import InvalidParameterError
from archsearch.spaces.base import SearchSpace
from archsearch.types import Architecture, CellGraph

__all__ = ["ENCODINGS", "ArchEncoder", "cell_paths"]

ENCODINGS = ("onehot", "path", "both")
"""The encodings :class:`ArchEncoder` knows."""


def cell_paths(graph: CellGraph) -> Counter[str]:
    """The input-to-output paths of a cell, counted by name.

    A path is named ``"<cell>:<input>:<op>><op>..."`` after the cell, the input node it starts
    from and the labelled edges along it (unlabelled edges, such as the concatenation into a
    DARTS cell's output, add nothing to the name). The output is the last node.

    Example:
        >>> import archsearch
        >>> space = archsearch.create_space("nb201")
        >>> arch = space.parse("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|"
        ...                    "nor_conv_1x1~1|none~2|")
        >>> sorted(cell_paths(space.cell_graphs(arch)[0]))
        ['cell:in:nor_conv_3x3>nor_conv_1x1', 'cell:in:skip_connect']
    """
    out_edges: dict[int, list[tuple[int, str]]] = {}
    for source, target, op in graph.edges:
        out_edges.setdefault(source, []).append((target, op))
    output = len(graph.nodes) - 1
    paths: Counter[str] = Counter()

    def walk(node: int, ops: tuple[str, ...], prefix: str) -> None:
        if node == output:
            paths[prefix + ">".join(ops)] += 1
            return
        for target, op in out_edges.get(node, ()):
            walk(target, ops + (op,) if op else ops, prefix)

    for start in range(graph.inputs):
        walk(start, (), f"{graph.name}:{graph.nodes[start]}:")
    return paths


class ArchEncoder:
    """Encodes architectures of one space as float vectors (see the module docstring).

    Call :meth:`fit` on the training architectures (it fixes the path vocabulary), then
    :meth:`transform` any architectures of the space.

    Args:
        space: the space the architectures belong to.
        kind: ``"onehot"``, ``"path"`` or ``"both"``. A space without cell graphs has no
            paths, so ``"path"`` falls back to ``"onehot"`` there and ``"both"`` equals it.
        owner: the name errors give as the owner of the ``encoding`` parameter.

    Example:
        >>> import archsearch, numpy as np
        >>> space = archsearch.create_space("nb201")
        >>> archs = [space.sample(np.random.default_rng(i)) for i in range(20)]
        >>> encoder = ArchEncoder(space, "both").fit(archs)
        >>> x = encoder.transform(archs)
        >>> x.shape[0], x.shape[1] > 30, float(x[:, :30].sum())
        (20, True, 120.0)
    """

    def __init__(self, space: SearchSpace, kind: str = "both", owner: str | None = None) -> None:
        if kind not in ENCODINGS:
            raise InvalidParameterError(
                f"The 'encoding' parameter of {owner or type(self).__name__} must be one of "
                f"{list(ENCODINGS)}. Got {kind!r} instead.")
        self.space, self.kind = space, kind
        decisions = space.decisions()
        self._blocks = [(i, len(d.choices)) for i, d in enumerate(decisions) if len(d.choices) > 1]
        self._offsets = np.cumsum([0] + [n for _, n in self._blocks])[:-1]
        self._paths: dict[Architecture, Counter[str]] = {}
        self._indices: dict[Architecture, np.ndarray] = {}
        self.vocabulary: dict[str, int] = {}

    @property
    def uses_paths(self) -> bool:
        """Whether the encoding holds path counts (a cell space and ``path`` or ``both``)."""
        return self.kind != "onehot" and bool(self.vocabulary)

    @property
    def uses_onehot(self) -> bool:
        """Whether the encoding holds the one-hot block."""
        return self.kind != "path" or not self.vocabulary

    def paths(self, arch: Architecture) -> Counter[str]:
        """The paths of every cell of ``arch``, counted (cached per architecture)."""
        if arch not in self._paths:
            total: Counter[str] = Counter()
            for graph in self.space.cell_graphs(arch):
                total.update(cell_paths(graph))
            self._paths[arch] = total
        return self._paths[arch]

    def fit(self, archs: Sequence[Architecture]) -> ArchEncoder:
        """Fix the path vocabulary to the paths met in ``archs``; returns self."""
        seen: set[str] = set()
        if self.kind != "onehot":
            for arch in archs:
                seen.update(self.paths(arch))
        self.vocabulary = {path: i for i, path in enumerate(sorted(seen))}
        return self

    def transform(self, archs: Sequence[Architecture]) -> np.ndarray:
        """One row of features per architecture (float32)."""
        parts = []
        if self.uses_onehot:
            parts.append(self._onehot(archs))
        if self.uses_paths:
            counts = np.zeros((len(archs), len(self.vocabulary)), dtype=np.float32)
            for row, arch in enumerate(archs):
                for path, n in self.paths(arch).items():
                    col = self.vocabulary.get(path)
                    if col is not None:
                        counts[row, col] = n
            parts.append(counts)
        return np.concatenate(parts, axis=1)

    def _onehot(self, archs: Sequence[Architecture]) -> np.ndarray:
        width = sum(n for _, n in self._blocks)
        out = np.zeros((len(archs), width), dtype=np.float32)
        if not self._blocks:
            return out
        columns = [i for i, _ in self._blocks]
        for row, arch in enumerate(archs):
            if arch not in self._indices:
                self._indices[arch] = self._offsets + self.space.encode(arch)[columns]
            out[row, self._indices[arch]] = 1.0
        return out
