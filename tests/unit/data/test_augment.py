"""Tests of archsearch.data.augment: batched crop, flip and cutout."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from archsearch.data import Augment, cutout, random_crop, random_hflip
from archsearch.errors import InvalidParameterError


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def arange_batch(n: int = 16, c: int = 2, h: int = 5, w: int = 6) -> torch.Tensor:
    return torch.arange(n * c * h * w, dtype=torch.float32).reshape(n, c, h, w) + 1  # no zeros


@pytest.mark.parametrize(
    "fn",
    [lambda x, g: random_crop(x, 3, g), random_hflip, lambda x, g: cutout(x, 4, g),
     Augment(crop_padding=2, hflip=True, cutout=3)],
)
def test_shapes_dtype_and_device_are_kept(fn) -> None:  # type: ignore[no-untyped-def]
    x = torch.randn(7, 3, 9, 8)
    out = fn(x, seeded())
    assert out.shape == x.shape and out.dtype == x.dtype and out.device == x.device
    assert torch.equal(x, x.clone())  # input left untouched


def test_random_crop_takes_a_window_of_the_padded_image() -> None:
    x, p = arange_batch(), 2
    out = random_crop(x, p, seeded(1))
    padded = F.pad(x, (p, p, p, p))
    offsets = set()
    for i in range(len(x)):
        matches = [(dy, dx) for dy in range(2 * p + 1) for dx in range(2 * p + 1)
                   if torch.equal(out[i], padded[i, :, dy:dy + 5, dx:dx + 6])]
        assert len(matches) == 1
        offsets.add(matches[0])
    assert len(offsets) > 3  # offsets differ between samples


def test_random_crop_without_padding_is_identity() -> None:
    x = arange_batch()
    assert random_crop(x, 0, seeded()) is x


def test_random_hflip_flips_exactly_the_selected_samples() -> None:
    x = torch.randn(64, 3, 4, 5)
    out = random_hflip(x, seeded(2))
    same = (out == x).flatten(1).all(1)
    flipped = (out == x.flip(-1)).flatten(1).all(1)
    assert torch.equal(same, ~flipped)  # each sample either kept or mirrored, never altered otherwise
    assert 16 < int(flipped.sum()) < 48
    expected = torch.rand(64, generator=seeded(2)) < 0.5  # the documented coin flip per sample
    assert torch.equal(flipped, expected)


def test_cutout_zeroes_a_square_clipped_at_borders() -> None:
    size, h, w = 4, 32, 32
    x = torch.ones(256, 2, h, w)
    out = cutout(x, size, seeded(3))
    zero = out == 0
    assert torch.equal(zero[:, 0], zero[:, 1])  # same square in every channel
    n_interior = 0
    for mask in zero[:, 0]:
        rows, cols = mask.any(1).nonzero().flatten(), mask.any(0).nonzero().flatten()
        count = int(mask.sum())
        assert count == len(rows) * len(cols) <= size * size  # a (clipped) rectangle
        interior = rows.min() > 0 and cols.min() > 0 and rows.max() < h - 1 and cols.max() < w - 1
        if interior:
            assert count == size * size
            n_interior += 1
    assert n_interior > 100


def test_augment_is_deterministic_under_a_seeded_generator() -> None:
    augment = Augment(crop_padding=2, hflip=True, cutout=3)
    x = torch.randn(32, 3, 8, 8)
    assert torch.equal(augment(x, seeded(5)), augment(x, seeded(5)))
    assert not torch.equal(augment(x, seeded(5)), augment(x, seeded(6)))


def test_augment_applies_crop_then_flip_then_cutout() -> None:
    augment = Augment(crop_padding=1, hflip=True, cutout=2)
    x = torch.randn(8, 3, 6, 6)
    g = seeded(7)
    expected = cutout(random_hflip(random_crop(x, 1, g), g), 2, g)
    assert torch.equal(augment(x, seeded(7)), expected)


def test_identity_augment_returns_its_input() -> None:
    x = torch.randn(4, 3, 5, 5)
    assert Augment().is_identity
    assert Augment()(x) is x
    assert not Augment(hflip=True).is_identity and not Augment(cutout=1).is_identity


def test_augment_is_a_frozen_value() -> None:
    augment = Augment(crop_padding=4)
    assert augment == Augment(crop_padding=4) and hash(augment) == hash(Augment(crop_padding=4))
    with pytest.raises(AttributeError):
        augment.hflip = True  # type: ignore[misc]


def test_works_without_a_generator() -> None:
    out = Augment(crop_padding=1, hflip=True, cutout=2)(torch.randn(4, 1, 6, 6))
    assert out.shape == (4, 1, 6, 6)


@pytest.mark.parametrize(
    ("call", "param"),
    [
        (lambda: random_crop(torch.zeros(2, 1, 4, 4), -1), "'padding' parameter of random_crop"),
        (lambda: cutout(torch.zeros(2, 1, 4, 4), 1.5), "'size' parameter of cutout"),  # type: ignore
        (lambda: random_hflip(torch.zeros(1, 4, 4)), "'x' parameter of random_hflip"),
    ],
)
def test_bad_arguments_are_refused(call, param: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidParameterError, match=param):
        call()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_cpu_generator_with_a_gpu_batch() -> None:
    x = torch.randn(8, 3, 6, 6, device="cuda")
    augment = Augment(crop_padding=2, hflip=True, cutout=2)
    cpu = augment(x.cpu(), seeded(0))
    gpu = augment(x, seeded(0))
    assert gpu.device == x.device and torch.equal(gpu.cpu(), cpu)
