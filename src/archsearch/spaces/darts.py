"""The NASNet/DARTS cell search space (Zoph et al., CVPR 2018; Liu et al., ICLR 2019).

A network stacks two kinds of cells, *normal* and *reduce* (which halves the resolution
and doubles the channels). A cell reads the outputs of the two previous cells (inputs
0 and 1) and computes ``n_nodes`` intermediate nodes; node ``i`` (input ``2 + i``) sums
two operations, each applied to an earlier input, and the cell output concatenates
intermediate nodes. Architectures print as the reference code's genotype strings, and
networks are built as its ``cnn/model.py`` builds them, so their parameter counts and
``state_dict`` keys equal the reference's.

Which nodes are concatenated is a setting of the space, ``concat``: ``"all"`` (every
intermediate node, as in every DARTS-derived cell) or ``"unused"`` (the nodes no other
node reads, as NASNet and AmoebaNet do). Either way it follows from the edges, so a
genotype's concat lists are checked, not chosen, and string round trips are exact.

Genotypes, their strings and the published cells live in
:mod:`archsearch.spaces.darts_genotypes`, the networks in
:mod:`archsearch.spaces.darts_networks`; both are importable from here too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from torch import nn

from archsearch._utils.validation import check_int
from archsearch.errors import (
    IncompatibleError,
    InvalidArchitectureError,
    InvalidParameterError,
    unknown_name,
)
from archsearch.spaces.base import SearchSpace, alphas_tensor, check_input_shape
from archsearch.spaces.darts_genotypes import (
    GENOTYPES,
    Genotype,
    format_genotype,
    parse_genotype,
    unused_nodes,
)
from archsearch.spaces.darts_networks import AuxiliaryHeadCIFAR as AuxiliaryHeadCIFAR
from archsearch.spaces.darts_networks import AuxiliaryHeadImageNet as AuxiliaryHeadImageNet
from archsearch.spaces.darts_networks import Cell, NetworkCIFAR, NetworkImageNet
from archsearch.types import Architecture, CellGraph, Decision

if TYPE_CHECKING:
    from archsearch.spaces.darts_supernet import DartsSupernet

__all__ = [
    "DARTS_SEARCH_OPS", "DARTS_ALL_OPS", "GENOTYPES", "Genotype", "DartsSpace",
    "Cell", "NetworkCIFAR", "NetworkImageNet", "format_genotype", "parse_genotype",
    "published", "space_for", "unused_nodes",
]

DARTS_SEARCH_OPS: tuple[str, ...] = (
    "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5",
    "dil_conv_3x3", "dil_conv_5x5",
)
"""The operations DARTS searches over (its ``PRIMITIVES`` without ``none``)."""
DARTS_ALL_OPS: tuple[str, ...] = DARTS_SEARCH_OPS + ("sep_conv_7x7", "conv_7x1_1x7")
"""Every operation a discrete cell may use, including those of NASNet and AmoebaNet."""
CELL_TYPES = ("normal", "reduce")
CONCAT_MODES = ("all", "unused")
NETWORKS = ("cifar", "imagenet")
MAX_NODES = 32  # nodes per cell: DARTS has 4, NASNet and AmoebaNet 5


# --- the space -----------------------------------------------------------------------
def _paths(cell: str, node: int, k: int) -> tuple[str, str]:
    return f"{cell}.node{node}.op{k}", f"{cell}.node{node}.input{k}"


class DartsSpace(SearchSpace):
    """The NASNet/DARTS cell space: a normal and a reduce cell of ``n_nodes`` nodes each.

    Each node of each cell has four decisions: ``{cell}.node{i}.op{k}`` (an operation of
    ``ops``) and ``{cell}.node{i}.input{k}`` (``"0"`` to ``str(i + 1)``: inputs 0 and 1 are
    the previous cells, ``2 + j`` is node ``j``) for ``k`` in 0, 1, the indexing of the
    reference genotypes. ``none`` is not an operation of discrete cells; it appears only
    in the supernet. Architectures print as genotype strings; their keys treat the two
    (op, input) pairs of a node as unordered, since the node sums them.

    Args:
        channels: channels of the first cells of built networks (36 for CIFAR in the
            paper, 48 for ImageNet).
        layers: number of cells (20 for CIFAR, 14 for ImageNet).
        n_nodes: intermediate nodes per cell (4 in DARTS, 5 in NASNet and AmoebaNet).
        ops: candidate operations, in encoding order; defaults to :data:`DARTS_SEARCH_OPS`.
        auxiliary: whether built networks have the auxiliary head.
        drop_path: drop-path probability of built networks in training.
        network: ``"cifar"`` (the reference ``NetworkCIFAR``) or ``"imagenet"``.
        concat: which intermediate nodes a cell concatenates: ``"all"`` or ``"unused"``
            (those no node reads).

    Example:
        >>> import torch
        >>> space = DartsSpace(channels=4, layers=3)
        >>> arch = space.parse(str(GENOTYPES["DARTS_V2"]))
        >>> arch.values[:4]
        ('sep_conv_3x3', '0', 'sep_conv_3x3', '1')
        >>> space.parse(str(arch)) == arch
        True
        >>> space.build(arch, (3, 32, 32), 10).eval()(torch.zeros(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """

    name = "darts"
    TEST_CONFIG = {"channels": 4, "layers": 3}

    def __init__(self, channels: int = 36, layers: int = 20, n_nodes: int = 4,
                 ops: Sequence[str] | None = None, auxiliary: bool = False,
                 drop_path: float = 0.0, network: str = "cifar", concat: str = "all") -> None:
        self.channels = channels
        self.layers = layers
        self.n_nodes = n_nodes
        self.ops = ops
        self.auxiliary = auxiliary
        self.drop_path = drop_path
        self.network = network
        self.concat = concat

    # --- settings --------------------------------------------------------------------
    def check(self) -> None:
        """Raise InvalidParameterError unless the constructor arguments are valid."""
        owner = type(self).__name__
        check_int(owner, "channels", self.channels, 1)
        check_int(owner, "layers", self.layers, 1)
        check_int(owner, "n_nodes", self.n_nodes, 1, MAX_NODES)
        _check_ops(owner, self.ops)
        _check_choice(owner, "auxiliary", self.auxiliary, (False, True))
        _check_choice(owner, "network", self.network, NETWORKS)
        _check_choice(owner, "concat", self.concat, CONCAT_MODES)
        if isinstance(self.drop_path, bool) or not isinstance(self.drop_path, (int, float)) \
                or not 0 <= self.drop_path < 1:
            raise InvalidParameterError(f"The 'drop_path' parameter of {owner} must be a "
                                        f"number in [0, 1). Got {self.drop_path!r} instead.")
        if self.network == "imagenet" and self.channels % 2:
            raise InvalidParameterError(f"The 'channels' parameter of {owner} must be even for "
                                        f"network='imagenet'. Got {self.channels!r} instead.")

    def op_names(self) -> tuple[str, ...]:
        """The candidate operations of every edge, in encoding order."""
        return DARTS_SEARCH_OPS if self.ops is None else tuple(self.ops)

    def config(self) -> dict[str, Any]:
        """The constructor arguments, with ``ops`` spelled out."""
        ops = self.ops if self.ops is not None and not isinstance(self.ops, (list, tuple)) \
            else list(self.op_names())
        return {"channels": self.channels, "layers": self.layers, "n_nodes": self.n_nodes,
                "ops": ops, "auxiliary": self.auxiliary, "drop_path": self.drop_path,
                "network": self.network, "concat": self.concat}

    # --- decisions and strings -------------------------------------------------------
    def decisions(self) -> tuple[Decision, ...]:
        """Per cell, node and ``k``: the operation, then its input."""
        self.check()
        ops = self.op_names()
        decisions = []
        for cell in CELL_TYPES:
            for node in range(self.n_nodes):
                inputs = tuple(str(j) for j in range(node + 2))
                for k in (0, 1):
                    op_path, input_path = _paths(cell, node, k)
                    decisions += [Decision(op_path, ops), Decision(input_path, inputs)]
        return tuple(decisions)

    def to_genotype(self, arch: Architecture | tuple[str, ...]) -> Genotype:
        """The genotype of an architecture (or of decision values) of this space."""
        values = arch.values if isinstance(arch, Architecture) else arch
        half = len(values) // 2
        cells = [
            [(values[k], int(values[k + 1])) for k in range(start, start + half, 2)]
            for start in (0, half)
        ]
        return Genotype(cells[0], self._concat_of(cells[0]), cells[1], self._concat_of(cells[1]))

    def _concat_of(self, pairs: list[tuple[str, int]]) -> list[int]:
        if self.concat == "unused":
            return unused_nodes(pairs)
        return list(range(2, 2 + len(pairs) // 2))

    def format(self, values: tuple[str, ...]) -> str:
        """The reference genotype string, e.g. ``Genotype(normal=[('sep_conv_3x3', 0), ...``."""
        return format_genotype(self.to_genotype(values))

    def canonical(self, values: tuple[str, ...]) -> str:
        """The genotype string with each node's two (op, input) pairs sorted.

        A node sums its two edges, so swapping them yields the same network; nothing
        else is merged (nodes computing the same function stay distinct).
        """
        pairs = [(values[k], values[k + 1]) for k in range(0, len(values), 2)]
        nodes = [sorted(pairs[k:k + 2], key=lambda p: (int(p[1]), p[0]))
                 for k in range(0, len(pairs), 2)]
        return self.format(tuple(v for node in nodes for pair in node for v in pair))

    def parse(self, text: str) -> Architecture:
        """Parse a genotype string (see :func:`parse_genotype`).

        Raises:
            InvalidArchitectureError: naming the malformed part, or the decision path of
                an unknown operation or an input out of range, or a wrong concat list.
        """
        return self.from_genotype(parse_genotype(text))

    def from_genotype(self, genotype: Genotype) -> Architecture:
        """The architecture of a genotype; its concat lists must be those of the space."""
        arch = self.from_values(self._edge_values(genotype))
        expected = self.to_genotype(arch)
        for cell in CELL_TYPES:
            field = f"{cell}_concat"
            got = list(getattr(genotype, field))
            if got != getattr(expected, field):
                raise InvalidArchitectureError(
                    f"Genotype field {field!r} got {got}; with concat={self.concat!r} this space "
                    f"needs {getattr(expected, field)}.", path=field,
                )
        return arch

    def _edge_values(self, genotype: Genotype) -> list[str]:
        """The decision values of the genotype's edges, each checked against its decision."""
        ops, n, values = self.op_names(), self.n_nodes, []
        for cell in CELL_TYPES:
            pairs = list(getattr(genotype, cell))
            if len(pairs) != 2 * n:
                raise InvalidArchitectureError(
                    f"Genotype field {cell!r} must hold {2 * n} (op, input) pairs, 2 for each "
                    f"of {n} nodes; got {len(pairs)}.", path=cell,
                )
            for k, (op, index) in enumerate(pairs):
                op_path, input_path = _paths(cell, k // 2, k % 2)
                allowed = list(range(k // 2 + 2))
                if op not in ops:
                    raise InvalidArchitectureError(
                        f"Decision {op_path!r} got {op!r}; allowed: {list(ops)}.", path=op_path)
                if index not in allowed:
                    raise InvalidArchitectureError(
                        f"Decision {input_path!r} got {index!r}; allowed: {allowed}.",
                        path=input_path)
                values += [op, str(index)]
        return values

    def cell_graphs(self, arch: Architecture) -> tuple[CellGraph, ...]:
        """Both cells as DAGs: inputs, nodes 0..n-1, the output, fed by the concatenated nodes."""
        genotype = self.to_genotype(arch)
        graphs = []
        for cell in CELL_TYPES:
            pairs, concat = getattr(genotype, cell), getattr(genotype, f"{cell}_concat")
            n = len(pairs) // 2
            nodes = ("c_{k-2}", "c_{k-1}", *(str(i) for i in range(n)), "c_{k}")
            edges = [(index, 2 + k // 2, op) for k, (op, index) in enumerate(pairs)]
            edges += [(state, n + 2, "") for state in concat]
            graphs.append(CellGraph(cell, nodes, tuple(edges), inputs=2))
        return tuple(graphs)

    # --- networks --------------------------------------------------------------------
    def build(self, arch: Architecture, input_shape: Sequence[int], n_classes: int) -> nn.Module:
        """A freshly initialised reference network (CIFAR or ImageNet) for this architecture.

        Args:
            arch: an architecture of this space.
            input_shape: ``(channels, height, width)`` of one input; any size works.
            n_classes: number of output logits.
        """
        self.check()
        self.validate(arch)
        in_channels = check_input_shape("DartsSpace", input_shape)
        check_int("DartsSpace.build", "n_classes", n_classes, 1)
        network = NetworkCIFAR if self.network == "cifar" else NetworkImageNet
        return network(self.channels, n_classes, self.layers, self.auxiliary,
                       self.to_genotype(arch), in_channels, float(self.drop_path))

    def supernet(self, input_shape: Sequence[int], n_classes: int, *,
                 channels: int | None = None, layers: int | None = None) -> DartsSupernet:
        """The DARTS supernet over this space: every edge mixes ``none`` and ``ops``.

        Args:
            input_shape: ``(channels, height, width)`` of one input.
            n_classes: number of output logits.
            channels: first-cell channels; defaults to the space's (DARTS searches at 16).
            layers: number of cells; defaults to the space's (DARTS searches with 8).
        """
        from archsearch.spaces.darts_supernet import DartsSupernet

        self.check()
        in_channels = check_input_shape("DartsSpace", input_shape)
        check_int("DartsSpace.supernet", "n_classes", n_classes, 1)
        return DartsSupernet(self.channels if channels is None else channels, n_classes,
                             self.layers if layers is None else layers, n_nodes=self.n_nodes,
                             ops=self.op_names(), in_channels=in_channels)

    def derive(self, supernet: DartsSupernet) -> Architecture:
        """The discrete architecture a trained supernet selects (see ``DartsSupernet.genotype``)."""
        self.check()
        if supernet.n_nodes != self.n_nodes or supernet.ops != self.op_names():
            raise IncompatibleError(
                f"The supernet has {supernet.n_nodes} nodes and ops {list(supernet.ops)}; this "
                f"space has {self.n_nodes} nodes and ops {list(self.op_names())}."
            )
        return self.derive_alphas(supernet.named_arch_parameters())

    def derive_alphas(self, alphas: Mapping[str, Any]) -> Architecture:
        """The architecture that architecture weights select, as DARTS derives it.

        Per node, the two incoming edges whose strongest operation other than ``none``
        weighs most are kept, each with that operation (ties to the earlier input).

        Args:
            alphas: ``{"alphas_normal": logits, "alphas_reduce": logits}``, each with one
                row per edge (node by node, inputs in order) and one column per candidate,
                ``none`` first then this space's ops (tensors or nested lists).
        """
        from archsearch.spaces.darts_supernet import derive_genotype

        self.check()
        candidates = ("none", *self.op_names())
        shape = (sum(2 + i for i in range(self.n_nodes)), len(candidates))
        normal, reduce = (alphas_tensor("DartsSpace.derive_alphas", alphas, f"alphas_{cell}", shape)
                          for cell in CELL_TYPES)
        genotype = derive_genotype(normal, reduce, candidates, self.n_nodes)
        return self.from_values(self._edge_values(genotype))


def _check_ops(owner: str, ops: object) -> None:
    if ops is None:
        return
    names = list(ops) if isinstance(ops, (list, tuple)) else []
    known = all(isinstance(op, str) and op in DARTS_ALL_OPS for op in names)
    if not names or not known or len(set(names)) != len(names):
        raise InvalidParameterError(
            f"The 'ops' parameter of {owner} must be a non-empty list of distinct operations "
            f"from {list(DARTS_ALL_OPS)}. Got {ops!r} instead."
        )


def _check_choice(owner: str, name: str, value: object, allowed: tuple[object, ...]) -> None:
    if isinstance(value, bool) != isinstance(allowed[0], bool) or value not in allowed:
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be one of {list(allowed)}. "
            f"Got {value!r} instead."
        )




# --- published cells -----------------------------------------------------------------
def space_for(genotype: Genotype | str, **settings: Any) -> tuple[DartsSpace, Architecture]:
    """A space that holds ``genotype``, and its architecture there.

    The space takes ``n_nodes`` from the genotype, ``ops`` = :data:`DARTS_SEARCH_OPS` if
    they suffice else :data:`DARTS_ALL_OPS`, and the ``concat`` mode its concat lists
    follow; ``settings`` give the other constructor arguments.

    Example:
        >>> space, arch = space_for(GENOTYPES["AmoebaNet"], channels=4, layers=3)
        >>> space.n_nodes, space.concat
        (5, 'unused')
    """
    if isinstance(genotype, str):
        genotype = parse_genotype(genotype)
    fixed = {"n_nodes", "ops", "concat"} & set(settings)
    if fixed:
        raise InvalidParameterError(
            f"The {sorted(fixed)[0]!r} setting is taken from the genotype; pass only channels, "
            "layers, auxiliary, drop_path or network."
        )
    used = {op for cell in CELL_TYPES for op, _ in getattr(genotype, cell)}
    ops = DARTS_SEARCH_OPS if used <= set(DARTS_SEARCH_OPS) else DARTS_ALL_OPS
    n_nodes = max(1, len(genotype.normal) // 2)
    everything = list(range(2, 2 + n_nodes))
    concat = "all" if [*genotype.normal_concat] == [*genotype.reduce_concat] == everything \
        else "unused"
    space = DartsSpace(n_nodes=n_nodes, ops=ops, concat=concat, **settings)
    space.check()
    return space, space.from_genotype(genotype)


def published(name: str, **settings: Any) -> tuple[DartsSpace, Architecture]:
    """A published cell by its name in :data:`GENOTYPES`, with a space that holds it.

    ``settings`` are constructor arguments of the space other than those the genotype
    fixes (see :func:`space_for`).

    Example:
        >>> space, arch = published("NASNet")
        >>> str(arch) == str(GENOTYPES["NASNet"])
        True
    """
    if name not in GENOTYPES:
        raise unknown_name("published genotype", name, GENOTYPES, "archsearch.spaces.GENOTYPES")
    return space_for(GENOTYPES[name], **settings)
