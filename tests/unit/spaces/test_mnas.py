"""Tests of the MnasNet space: strings, block semantics, networks and parameter counts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from archsearch.errors import InvalidArchitectureError, InvalidParameterError
from archsearch.spaces.mnas import MNAS_SKELETON, MnasBlock, MnasLayer, MnasNet, MnasSpace
from archsearch.testing import check_parse

torch.set_num_threads(1)

SMALL = MnasSpace(**MnasSpace.TEST_CONFIG)
MOBILENET_V2 = "|".join(
    ["dwconv_k3_se0_skipid_f1.0_l+0"] + ["mbconv6_k3_se0_skipid_f1.0_l+0"] * 6
)
MOBILENET_V2_PARAMS = 3_504_872  # torchvision's mobilenet_v2(), 1000 classes


def _n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.fixture
def space() -> MnasSpace:
    return MnasSpace(**MnasSpace.TEST_CONFIG)


def test_decisions_are_six_per_block(space: MnasSpace) -> None:
    decisions = space.decisions()
    assert [d.path for d in decisions[:6]] == [
        "block0.op", "block0.kernel", "block0.se", "block0.skip", "block0.filters", "block0.layers",
    ]
    assert [d.choices for d in decisions[:6]] == [
        ("conv", "dwconv", "mbconv3", "mbconv6"), ("3", "5"), ("0", "0.25"),
        ("none", "identity", "pool"), ("0.75", "1.0", "1.25"), ("-1", "0", "+1"),
    ]
    assert decisions[-1].path == "block6.layers"
    assert space.size == 432**7  # the paper's 432 settings per block
    assert len(MnasSpace(n_blocks=3).decisions()) == 18


def test_baseline_is_mobilenet_v2_and_prints_as_documented() -> None:
    space = MnasSpace()
    assert str(space.baseline()) == MOBILENET_V2
    arch = space.parse(MOBILENET_V2)
    assert arch == space.baseline()
    assert arch.values[6:12] == ("mbconv6", "3", "0", "identity", "1.0", "0")
    assert space.parse(f" {MOBILENET_V2}\n") == arch


def test_parse_format_round_trip() -> None:
    rng = np.random.default_rng(0)
    for space in (SMALL, MnasSpace(n_blocks=1)):
        for _ in range(200):
            arch = space.sample(rng)
            assert space.parse(str(arch)) == arch
            assert space.parse(str(arch)).key == arch.key


def test_encode_decode_round_trip(space: MnasSpace) -> None:
    rng = np.random.default_rng(1)
    for _ in range(200):
        arch = space.sample(rng)
        codes = space.encode(arch)
        assert codes.shape == (42,)
        assert space.decode(codes) == arch


def test_mutate_changes_exactly_one_decision(space: MnasSpace) -> None:
    rng = np.random.default_rng(2)
    for _ in range(200):
        arch = space.sample(rng)
        before = arch.values
        child = space.mutate(arch, rng)
        assert arch.values == before
        assert sum(a != b for a, b in zip(before, child.values)) == 1
        space.validate(child)


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (1, 8, 8), (3, 5, 7)])
def test_sampled_networks_run(space: MnasSpace, shape: tuple[int, int, int]) -> None:
    rng = np.random.default_rng(3)
    for _ in range(2):
        model = space.build(space.sample(rng), shape, 10).eval()
        with torch.no_grad():
            out = model(torch.randn(2, *shape))
        assert out.shape == (2, 10) and bool(torch.isfinite(out).all())


def test_default_strides_run_on_224_and_small_inputs() -> None:
    space = MnasSpace(width=0.25)
    arch = space.sample(np.random.default_rng(4))
    model = space.build(arch, (3, 224, 224), 10).eval()
    assert isinstance(model, MnasNet)
    with torch.no_grad():
        features = model.blocks(model.stem(torch.randn(1, 3, 224, 224)))
        assert features.shape[-2:] == (7, 7)
        assert model(torch.randn(1, 3, 224, 224)).shape == (1, 10)
        assert model(torch.randn(1, 1, 28, 28)[:, [0, 0, 0]]).shape == (1, 10)


def test_small_input_reaches_the_head_at_8x8_from_32x32(space: MnasSpace) -> None:
    arch = space.baseline()
    assert [b.stride for b in space.blocks(arch.values)] == [1, 1, 1, 2, 1, 2, 1]
    assert [b.stride for b in MnasSpace().blocks(arch.values)] == [1, 2, 2, 2, 1, 2, 1]
    model = space.build(arch, (3, 32, 32), 10).eval()
    assert isinstance(model, MnasNet)
    with torch.no_grad():
        assert model.blocks(model.stem(torch.randn(1, 3, 32, 32))).shape[-2:] == (8, 8)


def test_filters_and_layers_follow_the_skeleton() -> None:
    space = MnasSpace(width=1.0)
    values = ("mbconv6", "3", "0", "identity", "0.75", "-1") * 7
    blocks = space.blocks(values)
    # 0.75 x (16, 24, 32, 64, 96, 160, 320) rounded by MobileNetV2's rule.
    assert [b.out_channels for b in blocks] == [16, 24, 24, 48, 72, 120, 240]
    assert [b.n_layers for b in blocks] == [1, 1, 2, 3, 2, 2, 1]  # at least one layer
    values = ("mbconv6", "3", "0", "identity", "1.25", "+1") * 7
    blocks = space.blocks(values)
    assert [b.out_channels for b in blocks] == [24, 32, 40, 80, 120, 200, 400]
    assert [b.n_layers for b in blocks] == [n + 1 for _, n, _ in MNAS_SKELETON]
    assert [b.out_channels for b in SMALL.blocks(values)] == [8, 8, 16, 24, 32, 48, 104]


def test_mobilenet_v2_parameter_count() -> None:
    space = MnasSpace()
    model = space.build(space.baseline(), (3, 224, 224), 1000)
    assert _n_params(model) == MOBILENET_V2_PARAMS


def test_mbconv6_k3_se_layer_parameter_count() -> None:
    block = MnasBlock("mbconv6", 3, 0.25, "none", 24, 1, 2)
    layer = MnasLayer(16, 24, block, 2)
    expand = 16 * 96 + 2 * 96  # 1x1 conv 16 -> 96 (no bias), BN
    depthwise = 96 * 3 * 3 + 2 * 96  # 3x3 depthwise, BN
    se = (96 * 4 + 4) + (4 * 96 + 96)  # squeeze to int(16 * 0.25) = 4 channels, with biases
    project = 96 * 24 + 2 * 24  # linear 1x1 conv 96 -> 24, BN
    assert _n_params(layer) == expand + depthwise + se + project == 6004
    assert layer(torch.randn(2, 16, 9, 9)).shape == (2, 24, 5, 5)


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        ("conv", 16 * 24 * 25 + 48),
        ("dwconv", 16 * 25 + 32 + 16 * 24 + 48),
        ("mbconv3", 16 * 48 + 96 + 48 * 25 + 96 + 48 * 24 + 48),
    ],
)
def test_other_ops_parameter_counts(op: str, expected: int) -> None:
    layer = MnasLayer(16, 24, MnasBlock(op, 5, 0.0, "none", 24, 1, 1), 1)
    assert _n_params(layer) == expected


def test_identity_skip_only_where_the_shape_is_kept() -> None:
    block = MnasBlock("mbconv3", 3, 0.0, "identity", 24, 2, 2)
    assert not MnasLayer(16, 24, block, 2).residual
    assert not MnasLayer(24, 24, block, 2).residual
    assert MnasLayer(24, 24, block, 1).residual
    assert not MnasLayer(24, 24, MnasBlock("conv", 3, 0.0, "none", 24, 2, 1), 1).residual


@pytest.mark.parametrize("size", [1, 2, 7, 8])
def test_pool_skip_pools_and_projects_when_the_shape_changes(size: int) -> None:
    block = MnasBlock("dwconv", 5, 0.25, "pool", 24, 2, 2)
    layer = MnasLayer(16, 24, block, 2).eval()
    assert layer.residual
    assert [type(m).__name__ for m in layer.shortcut] == ["AvgPool2d", "Conv2d", "BatchNorm2d"]
    x = torch.randn(2, 16, size, size)
    expected = (size + 1) // 2
    assert layer.shortcut(x).shape == layer.body(x).shape == (2, 24, expected, expected)
    same = MnasLayer(24, 24, block, 1)
    assert same.residual and len(same.shortcut) == 0
    x = torch.randn(2, 24, size, size)
    assert torch.equal(same(x), same.body(x) + x)


MALFORMED = [
    "",
    "   ",
    "|",
    "mbconv6_k3_se0_skipid_f1.0_l+0",
    "|".join(["mbconv6_k3_se0_skipid_f1.0_l+0"] * 8),
    MOBILENET_V2.replace("mbconv6", "mbconv4", 1),
    MOBILENET_V2.replace("k3", "k7", 1),
    MOBILENET_V2.replace("se0", "se0.5", 1),
    MOBILENET_V2.replace("skipid", "skipidentity", 1),
    MOBILENET_V2.replace("f1.0", "f1", 1),
    MOBILENET_V2.replace("l+0", "l0", 1),
    MOBILENET_V2.replace("l+0", "l+2", 1),
    MOBILENET_V2.replace("_k3", "_K3", 1),
    MOBILENET_V2.replace("_k3_se0", "_se0_k3", 1),
    MOBILENET_V2.replace("_l+0", "", 1),
    MOBILENET_V2.replace("_l+0", "_l+0_", 1),
    MOBILENET_V2.replace("_l+0", "_l+0_x", 1),
    MOBILENET_V2.replace("_", "-"),
    MOBILENET_V2.replace("|", "||", 1),
    MOBILENET_V2.replace("|", ",", 1),
    MOBILENET_V2.replace("|", "\n|", 1),
    MOBILENET_V2.replace("_k3", " _k3", 1),
    MOBILENET_V2 + "|",
    MOBILENET_V2 + "x",
    "garbage",
    "!@#$%^&*()",
    None,
    123,
    MOBILENET_V2.encode(),
]


@pytest.mark.parametrize("text", MALFORMED)
def test_malformed_strings_raise_one_line_errors(text: object) -> None:
    space = MnasSpace()
    with pytest.raises(InvalidArchitectureError) as info:
        space.parse(text)  # type: ignore[arg-type]
    message = str(info.value)
    assert message and "\n" not in message


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("conv_k3_se0_skipid_f1.0_l+0|mbconv9_k3_se0_skipid_f1.0_l+0", "block1.op"),
        ("conv_k4_se0_skipid_f1.0_l+0|conv_k3_se0_skipid_f1.0_l+0", "block0.kernel"),
        ("conv_k3_se0_skipid_f1.0_l+0|conv_k3_se1_skipid_f1.0_l+0", "block1.se"),
        ("conv_k3_se0_skipno_f1.0_l+0|conv_k3_se0_skipid_f1.0_l+0", "block0.skip"),
        ("conv_k3_se0_skipid_f2.0_l+0|conv_k3_se0_skipid_f1.0_l+0", "block0.filters"),
        ("conv_k3_se0_skipid_f1.0_l+0|conv_k3_se0_skipid_f1.0_l2", "block1.layers"),
        ("conv_k3_se0_skipid_f1.0|conv_k3_se0_skipid_f1.0_l+0", "block0.layers"),
        ("conv_k3_se0_skipid_f1.0_l+0|conv_k3_se0_skipid_f1.0_l+0_", "block1"),
    ],
)
def test_errors_name_the_decision(text: str, path: str) -> None:
    with pytest.raises(InvalidArchitectureError) as info:
        MnasSpace(n_blocks=2).parse(text)
    assert info.value.path == path
    assert "\n" not in str(info.value)


def test_exact_messages() -> None:
    space = MnasSpace(n_blocks=2)
    text = "conv_k3_se0_skipid_f1.0_l+0|conv_k3_se0_skipid_f1.0_l2"
    with pytest.raises(InvalidArchitectureError) as info:
        space.parse(text)
    assert str(info.value) == (
        f"Decision 'block1.layers' got 'l2' in mnas arch string {text!r}; allowed: l-1, l+0, l+1."
    )
    text = "conv_k3_se0_skipid_f1.0_l+0"
    with pytest.raises(InvalidArchitectureError) as info:
        space.parse(text)
    assert str(info.value) == (
        f"Malformed mnas arch string {text!r}: expected 2 blocks separated by '|', got 1."
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("width", 0), ("width", -1.0), ("width", "1.0"), ("width", True), ("width", float("nan")),
        ("n_blocks", 0), ("n_blocks", 8), ("n_blocks", 3.0),
        ("stem_stride", 3), ("stem_stride", 2.0),
        ("small_input", 1), ("dropout", 1.0), ("dropout", -0.1),
    ],
)
def test_invalid_parameters_are_refused_at_check(name: str, value: object) -> None:
    space = MnasSpace(**{name: value})  # type: ignore[arg-type]
    assert space.config()[name] is value
    with pytest.raises(InvalidParameterError) as info:
        space.check()
    message = str(info.value)
    assert message.startswith(f"The {name!r} parameter of MnasSpace must be ")
    assert message.endswith(f"Got {value!r} instead.") and "\n" not in message
    with pytest.raises(InvalidParameterError):
        space.decisions()


def test_config_and_repr() -> None:
    space = MnasSpace(width=0.5, n_blocks=3, stem_stride=1, small_input=True, dropout=0.0)
    assert space.config() == {"width": 0.5, "n_blocks": 3, "stem_stride": 1,
                              "small_input": True, "dropout": 0.0}
    assert repr(space) == (
        "MnasSpace(width=0.5, n_blocks=3, stem_stride=1, small_input=True, dropout=0.0)"
    )


def test_build_rejects_bad_shapes_and_foreign_architectures(space: MnasSpace) -> None:
    arch = space.baseline()
    with pytest.raises(InvalidParameterError):
        space.build(arch, (32, 32), 10)
    with pytest.raises(InvalidParameterError):
        space.build(arch, (3, 32, 32), 0)
    with pytest.raises(InvalidArchitectureError):
        MnasSpace(n_blocks=2).build(arch, (3, 32, 32), 10)


# --- fuzzing: random text ends in an architecture or a one-line error, nothing else ---------

FIELD = st.sampled_from(["conv", "dwconv", "mbconv3", "mbconv6", "mbconv", "k3", "k5", "k", "se0",
                         "se0.25", "se", "skipnone", "skipid", "skippool", "skip", "f0.75",
                         "f1.0", "f1.25", "f", "l-1", "l+0", "l+1", "l0", "", " "])
ITEM = st.lists(FIELD, max_size=7).map("_".join)
NEAR_MISS = st.lists(ITEM, min_size=1, max_size=8).map("|".join)


def parse_or_error(text: str) -> None:
    check_parse(SMALL, text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_text(text: str) -> None:
    parse_or_error(text)


@settings(max_examples=300, deadline=None)
@given(NEAR_MISS)
def test_near_misses(text: str) -> None:
    parse_or_error(text)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 250), st.text(max_size=3))
def test_edited_valid_strings(seed: int, at: int, insert: str) -> None:
    text = str(SMALL.sample(np.random.default_rng(seed)))
    at = min(at, len(text))
    parse_or_error(text[:at] + insert + text[at + 1:])
