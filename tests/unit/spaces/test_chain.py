"""Tests of the NAS-RL chain space: strings, wiring, padding and networks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from archsearch.errors import InvalidArchitectureError, InvalidParameterError
from archsearch.spaces.chain import ChainLayer, ChainNet, ChainSpace, pad_cat
from archsearch.testing import check_parse

torch.set_num_threads(1)

SMALL = ChainSpace(**ChainSpace.TEST_CONFIG)


@pytest.fixture
def space() -> ChainSpace:
    return ChainSpace(**ChainSpace.TEST_CONFIG)


def test_decisions_are_per_layer_shape_then_skips(space: ChainSpace) -> None:
    paths = [d.path for d in space.decisions()]
    assert paths == [
        "layer0.filters", "layer0.kernel_h", "layer0.kernel_w", "layer0.stride",
        "layer1.filters", "layer1.kernel_h", "layer1.kernel_w", "layer1.stride", "layer1.skip0",
        "layer2.filters", "layer2.kernel_h", "layer2.kernel_w", "layer2.stride", "layer2.skip0",
        "layer2.skip1",
    ]
    assert space.decisions()[0].choices == ("4", "8")
    assert space.decisions()[-1].choices == ("0", "1")
    assert space.size == (2 * 2 * 2 * 2) ** 3 * 2**3
    assert len(ChainSpace().decisions()) == 6 * 4 + 15


def test_format_and_parse_the_documented_string(space: ChainSpace) -> None:
    text = "L0:f8k3x1s2|L1:f4k1x3s1+0|L2:f8k3x3s1+1"
    arch = space.parse(text)
    assert arch.values == ("8", "3", "1", "2", "4", "1", "3", "1", "1",
                           "8", "3", "3", "1", "0", "1")
    assert str(arch) == text
    assert space.parse(f"  {text}\n") == arch
    assert arch.key == space.parse(text).key


def test_parse_format_round_trip() -> None:
    rng = np.random.default_rng(0)
    for space in (SMALL, ChainSpace(), ChainSpace(skips=False), ChainSpace(depth=1)):
        for _ in range(100):
            arch = space.sample(rng)
            assert space.parse(str(arch)) == arch
            assert space.parse(str(arch)).key == arch.key


def test_encode_decode_round_trip() -> None:
    space, rng = ChainSpace(), np.random.default_rng(1)
    for _ in range(100):
        arch = space.sample(rng)
        codes = space.encode(arch)
        assert codes.shape == (39,)
        assert space.decode(codes) == arch


def test_mutate_changes_exactly_one_decision() -> None:
    space, rng = ChainSpace(), np.random.default_rng(2)
    for _ in range(100):
        arch = space.sample(rng)
        before = arch.values
        child = space.mutate(arch, rng)
        assert arch.values == before
        assert sum(a != b for a, b in zip(before, child.values)) == 1
        space.validate(child)


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (1, 8, 8), (2, 1, 1), (3, 9, 5)])
def test_sampled_networks_run(space: ChainSpace, shape: tuple[int, int, int]) -> None:
    rng = np.random.default_rng(3)
    for _ in range(3):
        model = space.build(space.sample(rng), shape, 10).eval()
        with torch.no_grad():
            out = model(torch.randn(2, *shape))
        assert out.shape == (2, 10) and bool(torch.isfinite(out).all())


def test_default_space_runs_on_small_inputs() -> None:
    space = ChainSpace()
    arch = space.sample(np.random.default_rng(4))
    with torch.no_grad():
        assert space.build(arch, (1, 8, 8), 3).eval()(torch.randn(1, 1, 8, 8)).shape == (1, 3)


def test_strided_layer_feeds_a_later_layer_through_a_skip(space: ChainSpace) -> None:
    # L1 halves 28 -> 14 and reads L0; L2 reads L0 (28x28) and L1 (14x14, padded to 28).
    arch = space.parse("L0:f4k3x3s1|L1:f8k3x1s2+0|L2:f4k1x3s1+0+1")
    net = space.build(arch, (1, 28, 28), 10)
    assert isinstance(net, ChainNet)
    assert net.inputs == ((), (0,), (0, 1))
    assert net.in_channels == (1, 4, 12)
    assert [layer[0].in_channels for layer in net.layers] == [1, 4, 12]
    assert net.sinks == (2,)
    assert net.classifier.in_features == 4
    assert net(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_unconnected_layers_read_the_image_and_all_sinks_reach_the_classifier(
    space: ChainSpace,
) -> None:
    arch = space.parse("L0:f4k3x3s2|L1:f8k1x1s1|L2:f4k3x3s2+0")
    net = space.build(arch, (3, 32, 32), 10)
    assert isinstance(net, ChainNet)
    assert net.in_channels == (3, 3, 4)
    assert net.sinks == (1, 2)  # L1 (8 ch, 32x32) and L2 (4 ch, 8x8) are padded and joined
    assert net.classifier.in_features == 12
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_without_skips_layers_form_a_chain() -> None:
    space = ChainSpace(depth=3, filters=(4,), kernel_sizes=(3,), strides=(2,), skips=False)
    arch = space.decode([0] * 12)
    assert str(arch) == "L0:f4k3x3s2|L1:f4k3x3s2|L2:f4k3x3s2"
    assert [layer.inputs for layer in space.layers(arch.values)] == [(), (0,), (1,)]
    net = space.build(arch, (1, 8, 8), 3).eval()
    assert isinstance(net, ChainNet) and net.sinks == (2,)
    # 8 -> 4 -> 2 -> 1, and a 1x1 map stays 1x1 under further strides.
    assert net(torch.randn(1, 1, 8, 8)).shape == (1, 3)
    assert net(torch.randn(1, 1, 1, 1)).shape == (1, 3)


def test_pad_cat_centres_smaller_maps_with_zeros() -> None:
    small, large = torch.ones(1, 1, 3, 3), torch.full((1, 2, 6, 5), 2.0)
    joined = pad_cat([small, large])
    assert joined.shape == (1, 3, 6, 5)
    assert torch.equal(joined[:, 1:], large)
    expected = torch.zeros(6, 5)
    expected[1:4, 1:4] = 1  # 3 extra rows: 1 above, 2 below; 2 extra columns: 1 each side
    assert torch.equal(joined[0, 0], expected)
    assert pad_cat([small]) is small


def test_same_padding_keeps_size_and_strides_round_up() -> None:
    layers = [ChainLayer(4, 7, 1, 1, ()), ChainLayer(4, 3, 5, 2, (0,)), ChainLayer(4, 1, 1, 2, (1,))]
    net = ChainNet(layers, 1, 2)
    x = torch.randn(1, 1, 9, 5)
    h0 = net.layers[0](x)
    h1 = net.layers[1](h0)
    assert h0.shape[-2:] == (9, 5)
    assert h1.shape[-2:] == (5, 3)
    assert net.layers[2](h1).shape[-2:] == (3, 2)


MALFORMED = [
    "",
    "   ",
    "|",
    "||",
    "L0:f4k3x3s1",
    "L0:f4k3x3s1|L1:f4k3x3s1",
    "L0:f4k3x3s1|L1:f4k3x3s1|L2:f4k3x3s1|L3:f4k3x3s1",
    "L0:f4k3x3s1|L1:f4k3x3s1|L2:f5k3x3s1",
    "L0:f4k3x3s1|L1:f4k3x3s1|L2:f4k5x3s1",
    "L0:f4k3x3s1|L1:f4k3x3s1|L2:f4k3x3s3",
    "L0:f4k3x3s1|L1:f4k3x3s1|L2:f4k3x3s1+2",
    "L0:f4k3x3s1|L1:f4k3x3s1|L2:f4k3x3s1+3",
    "L0:f4k3x3s1+0|L1:f4k3x3s1|L2:f4k3x3s1",
    "L0:f4k3x3s1|L1:f4k3x3s1|L2:f4k3x3s1+1+0",
    "L0:f4k3x3s1|L1:f4k3x3s1|L2:f4k3x3s1+0+0",
    "L0:f4k3x3s1|L1:f4k3x3s1|L2:f4k3x3s1+00",
    "L0:f4k3x3s1|L1:f4k3x3s1|L2:f4k3x3s1+",
    "L0:f4k3x3s1|L1:f4k3x3s1|L2:f4k3x3s1+a",
    "L0:f4k3x3s1|L1:f4k3x3s1|L2:f4k3x3s1x",
    "L0:f4k3x3s1|L1:f4k3x3s1|L2:f04k3x3s1",
    "L0:f4k3x3s1|L2:f4k3x3s1|L1:f4k3x3s1",
    "L0:f4k3x3s1|L1:f4k3x3s1|l2:f4k3x3s1",
    "L0:f4k3x3s1|L1:f4k3x3s1|L2f4k3x3s1",
    "L0:f4k3x3s1|L1:f4k3x3s1|L2:k3x3s1",
    "L0:f4k3x3s1|L1:f4k3x3s1|L2:f4k3s1",
    "L0:f4k3x3s1|L1:f4k3x3s1|L2:f4k3x3",
    "L0:f4k3x3s1|L1:f4k3x3s1|L2:f4 k3x3s1",
    "L0:f4k3x3s1|\nL1:f4k3x3s1|L2:f4k3x3s1",
    "L0:f4k3x3s1|L1:f4k3x3s1|L2:f٤k3x3s1",
    "L0:f4k3x3s1,L1:f4k3x3s1,L2:f4k3x3s1",
    "garbage",
    "!@#$%^&*()",
    None,
    123,
    b"L0:f4k3x3s1|L1:f4k3x3s1|L2:f4k3x3s1",
]


@pytest.mark.parametrize("text", MALFORMED)
def test_malformed_strings_raise_one_line_errors(space: ChainSpace, text: object) -> None:
    with pytest.raises(InvalidArchitectureError) as info:
        space.parse(text)  # type: ignore[arg-type]
    message = str(info.value)
    assert message and "\n" not in message


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("L0:f4k3x3s1|L1:f4k3x3s1|L2:f5k3x3s1", "layer2.filters"),
        ("L0:f4k3x3s1|L1:f4k9x3s1|L2:f4k3x3s1", "layer1.kernel_h"),
        ("L0:f4k3x2s1|L1:f4k3x3s1|L2:f4k3x3s1", "layer0.kernel_w"),
        ("L0:f4k3x3s1|L1:f4k3x3s1|L2:f4k3x3s4", "layer2.stride"),
        ("L0:f4k3x3s1|L1:f4k3x3s1|L2:f4k3x3s1+2", "layer2.skip2"),
        ("L0:f4k3x3s1|L1:f4k3x3s1+1|L2:f4k3x3s1", "layer1.skip1"),
        ("L0:f4k3x3s1|L1:f4k3x3s1|L2:f4k3x3s1+1+0", "layer2.skip0"),
        ("L0:f4k3y3s1|L1:f4k3x3s1|L2:f4k3x3s1", "layer0.kernel_h"),
        ("L0:f4k3x3s1|L1:f4k3x3|L2:f4k3x3s1", "layer1.stride"),
        ("L0:f4k3x3s1|L1:f4k3x3s1|X2:f4k3x3s1", "layer2"),
        ("L0:f4k3x3s1|L1:f4k3x3s1|L2:f4k3x3s1+a", "layer2"),
    ],
)
def test_errors_name_the_decision(space: ChainSpace, text: str, path: str) -> None:
    with pytest.raises(InvalidArchitectureError) as info:
        space.parse(text)
    assert info.value.path == path
    assert "\n" not in str(info.value)


def test_exact_messages(space: ChainSpace) -> None:
    with pytest.raises(InvalidArchitectureError) as info:
        space.parse("L0:f4k3x3s1|L1:f4k3x3s1|L2:f5k3x3s1")
    assert str(info.value) == "Decision 'layer2.filters' got '5'; allowed: ['4', '8']."
    text = "L0:f4k3x3s1|L1:f4k3x3s1"
    with pytest.raises(InvalidArchitectureError) as info:
        space.parse(text)
    assert str(info.value) == (
        f"Malformed chain arch string {text!r}: expected 3 layers separated by '|', got 2."
    )
    text = "L0:f4k3x3s1|L1:f4k3x3s1|L2:f4k3x3s1+3"
    with pytest.raises(InvalidArchitectureError) as info:
        space.parse(text)
    assert str(info.value) == (
        f"Malformed chain arch string {text!r}: layer 2 cannot read from layer 3 ('+3'); "
        "allowed earlier layers: 0..1."
    )


def test_skip_inputs_are_refused_when_skips_are_off() -> None:
    space = ChainSpace(depth=2, filters=(4,), kernel_sizes=(3,), strides=(1,), skips=False)
    with pytest.raises(InvalidArchitectureError, match="skips are off") as info:
        space.parse("L0:f4k3x3s1|L1:f4k3x3s1+0")
    assert info.value.path == "layer1.skip0"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("depth", 0), ("depth", 2.0), ("depth", True), ("depth", "3"), ("depth", 10**30),
        ("filters", ()), ("filters", (4, 4)), ("filters", (4, 0)), ("filters", "48"),
        ("filters", (4, 8.0)), ("filters", 4),
        ("kernel_sizes", (3, 4)), ("kernel_sizes", (-1,)), ("kernel_sizes", (3, True)),
        ("strides", (0,)), ("strides", [1, 1]),
        ("skips", 1), ("skips", None),
    ],
)
def test_invalid_parameters_are_refused_at_check(name: str, value: object) -> None:
    space = ChainSpace(**{name: value})  # type: ignore[arg-type]
    assert space.config()[name] == value
    with pytest.raises(InvalidParameterError) as info:
        space.check()
    message = str(info.value)
    assert message.startswith(f"The {name!r} parameter of ChainSpace must be ")
    assert message.endswith(f"Got {value!r} instead.") and "\n" not in message
    with pytest.raises(InvalidParameterError):
        space.decisions()


def test_config_and_repr() -> None:
    space = ChainSpace(depth=2, filters=[8], kernel_sizes=(3,), strides=(1,), skips=False)
    assert space.config() == {"depth": 2, "filters": [8], "kernel_sizes": (3,), "strides": (1,),
                              "skips": False}
    assert repr(space) == (
        "ChainSpace(depth=2, filters=[8], kernel_sizes=(3,), strides=(1,), skips=False)"
    )
    assert space.decisions()[0].choices == ("8",)


def test_build_rejects_bad_shapes_and_foreign_architectures(space: ChainSpace) -> None:
    arch = space.decode([0] * len(space.decisions()))
    with pytest.raises(InvalidParameterError):
        space.build(arch, (32, 32), 10)
    with pytest.raises(InvalidParameterError):
        space.build(arch, (3, 0, 32), 10)
    with pytest.raises(InvalidParameterError):
        space.build(arch, (3, 32, 32), 0)
    with pytest.raises(InvalidArchitectureError):
        ChainSpace().build(arch, (3, 32, 32), 10)


# --- fuzzing: random text ends in an architecture or a one-line error, nothing else ---------

FIELD = st.sampled_from(["f4", "f8", "f5", "k1", "k3", "x1", "x3", "s1", "s2", "+0", "+1", "+2",
                         "+9", "", "f", "x", "+", ":", "L", "L0:", "L1:", "L2:", " ", "0"])
ITEM = st.lists(FIELD, max_size=8).map("".join)
NEAR_MISS = st.lists(ITEM, min_size=1, max_size=4).map("|".join)


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
@given(st.integers(0, 2**32 - 1), st.integers(0, 40), st.text(max_size=3))
def test_edited_valid_strings(seed: int, at: int, insert: str) -> None:
    text = str(SMALL.sample(np.random.default_rng(seed)))
    at = min(at, len(text))
    parse_or_error(text[:at] + insert + text[at + 1:])
