"""Dataset files: npz, IDX (MNIST layout), CIFAR-10 pickled batches and image folders.

Garbage bytes, truncated files, wrong shapes, dtypes and labels must each end in a loaded,
finite task or a one-line DatasetError (or InvalidParameterError), never another exception.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from fuzz_support import fuzz, outcome, print_summary
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from archsearch.data import load_task
from archsearch.data._idx import IDX_FILES, IDX_IMAGES, IDX_LABELS

torch.set_num_threads(1)


def load(kind: str, name: str, **where: object) -> None:
    task = outcome(kind, lambda: load_task(name, **where))  # type: ignore[arg-type]
    if task is not None:
        assert len(task.y_train) > 0 and task.x_train.dim() == 4
        assert torch.isfinite(task.x_train).all(), f"{kind}: non-finite normalised images"
        assert int(task.y_train.min()) >= 0 and int(task.y_train.max()) < task.n_classes


@st.composite
def damaged(draw: st.DrawFn, base: bytes) -> bytes:
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, max(0, len(data) - 1)))
        how = draw(st.sampled_from(["flip", "cut", "insert", "truncate"]))
        if how == "flip" and data:
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif how == "cut":
            del data[i:i + draw(st.integers(1, 16))]
        elif how == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        else:
            del data[i:]
    return bytes(data)


# --- npz --------------------------------------------------------------------------------------
DTYPES = st.sampled_from(["uint8", "int8", "int64", "uint64", "float16", "float32", "float64",
                          "bool", "complex64", "U1", "S2", "datetime64[s]"])
SHAPES = hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=6)
ARRAYS = st.builds(lambda a: a, DTYPES.flatmap(lambda d: hnp.arrays(d, SHAPES)))


def valid_npz() -> bytes:
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    np.savez(buffer, x=rng.integers(0, 255, (40, 6, 6), dtype=np.uint8),
             y=np.arange(40) % 4)
    return buffer.getvalue()


@st.composite
def npz_bytes(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["arrays", "near-valid", "damaged", "garbage", "npy", "pickled"]))
    if kind == "near-valid":  # x and y of one length, numeric, with values that may break stats
        n = draw(st.integers(1, 16))
        shape = draw(st.sampled_from([(n, 4, 4), (n, 1, 4, 4), (n, 4, 4, 3), (n, 3, 1, 1),
                                      (n, 0, 4), (n, 4, 4, 1)]))
        x = draw(hnp.arrays(st.sampled_from(["uint8", "float32", "float64", "int64", "bool"]),
                            shape))
        y = draw(hnp.arrays(st.sampled_from(["int64", "int8"]), (n,), elements=st.integers(-3, 3)))
        buffer = io.BytesIO()
        np.savez(buffer, x=x, y=y)
        return buffer.getvalue()
    if kind == "damaged":
        return draw(damaged(valid_npz()))
    if kind == "garbage":
        return draw(st.binary(max_size=64))
    buffer = io.BytesIO()
    if kind == "npy":
        np.save(buffer, draw(ARRAYS))
    elif kind == "pickled":
        np.savez(buffer, x=np.array([{"a": 1}, None], dtype=object), y=np.array([0, 1]))
    else:
        n = draw(st.integers(0, 12))
        arrays = {}
        for key in draw(st.lists(st.sampled_from(["x", "y", "x_test", "y_test", "z"]), unique=True,
                                 max_size=4)):
            if key.startswith("x") and draw(st.booleans()):
                arrays[key] = draw(hnp.arrays(DTYPES, st.sampled_from([(n, 5, 5), (n, 1, 4, 4),
                                                                       (n, 4, 4, 3), (n, 5)])))
            elif key.startswith("y") and draw(st.booleans()):
                arrays[key] = draw(hnp.arrays(st.sampled_from(["int64", "uint8", "float32"]),
                                              (n,), elements=st.integers(0, 3)))
            else:
                arrays[key] = draw(ARRAYS)
        np.savez(buffer, **arrays)
    return buffer.getvalue()


@fuzz(300)
@given(data=npz_bytes())
def test_npz_files(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("npz") / "data.npz"
    path.write_bytes(data)
    load("data:npz", "npz", path=str(path))


# --- IDX ------------------------------------------------------------------------------------
def idx(magic: int, dims: tuple[int, ...], payload: bytes) -> bytes:
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + payload


def valid_idx_files(n: int = 30) -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (n, 4, 4), dtype=np.uint8).tobytes()
    labels = (np.arange(n) % 3).astype(np.uint8).tobytes()
    return {IDX_FILES[0]: idx(IDX_IMAGES, (n, 4, 4), images),
            IDX_FILES[1]: idx(IDX_LABELS, (n,), labels),
            IDX_FILES[2]: idx(IDX_IMAGES, (n, 4, 4), images),
            IDX_FILES[3]: idx(IDX_LABELS, (n,), labels)}


@st.composite
def idx_file(draw: st.DrawFn, base: bytes, magic: int) -> bytes:
    kind = draw(st.sampled_from(["damaged", "garbage", "header"]))
    if kind == "damaged":
        return draw(damaged(base))
    if kind == "garbage":
        return draw(st.binary(max_size=40))
    ndim = magic & 0xFF
    dims = tuple(draw(st.lists(st.sampled_from([0, 1, 3, 4, 30, 2**31, 2**32 - 1]),
                               min_size=ndim, max_size=ndim)))
    magic = draw(st.sampled_from([magic, magic ^ 1, 0x00000903, 0x00000D03, 0]))
    return idx(magic, dims, draw(st.binary(max_size=60)))


@fuzz(300)
@given(data=st.data())
def test_idx_files(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    folder = tmp_path_factory.mktemp("idx")
    files = valid_idx_files()
    which = data.draw(st.sampled_from(IDX_FILES))
    files[which] = data.draw(idx_file(files[which], IDX_IMAGES if "images" in which else IDX_LABELS))
    zipped = data.draw(st.sampled_from(["plain", "gzip", "fake-gzip", "damaged-gzip"]))
    for stem, content in files.items():
        if stem != which or zipped == "plain":
            (folder / stem).write_bytes(content)
        elif zipped == "gzip":
            (folder / f"{stem}.gz").write_bytes(gzip.compress(content, mtime=0))
        elif zipped == "fake-gzip":
            (folder / f"{stem}.gz").write_bytes(content)
        else:
            (folder / f"{stem}.gz").write_bytes(data.draw(damaged(gzip.compress(content, mtime=0))))
    load("data:idx", "mnist", data_dir=str(folder))


# --- CIFAR-10 batches -------------------------------------------------------------------------
def batch(n: int = 20, **extra: object) -> dict[bytes, object]:
    rng = np.random.default_rng(n)
    return {b"data": rng.integers(0, 255, (n, 3072), dtype=np.uint8),
            b"labels": [i % 10 for i in range(n)], **extra}


@st.composite
def cifar_batch(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["damaged", "garbage", "content", "global"]))
    good = pickle.dumps(batch(), protocol=draw(st.integers(2, 5)))
    if kind == "damaged":
        return draw(damaged(good))
    if kind == "garbage":
        return draw(st.binary(max_size=60))
    if kind == "global":  # a pickle that would run code when loaded
        return pickle.dumps(draw(st.sampled_from([os.getcwd, print, Path("x"), {1: os.system},
                                                  np.random.default_rng(0)])))
    n = draw(st.integers(0, 5))
    data = draw(st.one_of(hnp.arrays(st.sampled_from(["uint8", "float32", "int64"]),
                                     st.sampled_from([(n, 3072), (n, 3, 32, 32), (n, 3071), (3072,),
                                                      ()])),
                          st.none(), st.integers(), st.text(max_size=3)))
    labels = draw(st.one_of(st.lists(st.integers(-2, 12), min_size=n, max_size=n),
                            st.lists(st.lists(st.integers(0, 9), max_size=2), max_size=n),
                            st.lists(st.sampled_from([None, "a", 1.5, 2**70, True]), max_size=n),
                            st.none(), st.integers(), st.text(max_size=3),
                            hnp.arrays("int64", (n,), elements=st.integers(0, 9))))
    content = draw(st.sampled_from(["dict", "list", "str-keys"]))
    if content == "list":
        return pickle.dumps([data, labels])
    keys = (b"data", b"labels") if content == "dict" else ("data", "labels")
    return pickle.dumps({keys[0]: data, keys[1]: labels})


@fuzz(300)
@given(data=st.data())
def test_cifar_batches(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    folder = tmp_path_factory.mktemp("cifar") / "cifar-10-batches-py"
    folder.mkdir()
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    bad = data.draw(st.sampled_from(names))
    for name in names:
        (folder / name).write_bytes(data.draw(cifar_batch()) if name == bad
                                    else pickle.dumps(batch()))
    load("data:cifar10", "cifar10", data_dir=str(folder.parent))


# --- image folders ----------------------------------------------------------------------------
Image = pytest.importorskip("PIL.Image")


def image_bytes(mode: str, size: tuple[int, int], fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size).save(buffer, format=fmt)
    return buffer.getvalue()


@st.composite
def image_file(draw: st.DrawFn) -> tuple[str, bytes]:
    fmt, suffix = draw(st.sampled_from([("PNG", ".png"), ("GIF", ".gif"), ("BMP", ".bmp"),
                                        ("JPEG", ".jpg")]))
    mode = draw(st.sampled_from(["L", "RGB", "1", "P", "RGBA", "I", "F", "CMYK", "LA"]))
    size = (draw(st.integers(1, 9)), draw(st.integers(1, 9)))
    try:
        good = image_bytes(mode, size, fmt)
    except (OSError, ValueError, KeyError):  # that format cannot hold that mode
        good = image_bytes("L", size, fmt)
    kind = draw(st.sampled_from(["good", "damaged", "garbage", "swapped-suffix"]))
    if kind == "damaged":
        return suffix, draw(damaged(good))
    if kind == "garbage":
        return suffix, draw(st.binary(max_size=40))
    if kind == "swapped-suffix":
        return draw(st.sampled_from([".png", ".jpg", ".gif"])), good
    return suffix, good


@fuzz(200)
@given(data=st.data())
def test_image_folders(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    root = tmp_path_factory.mktemp("images")
    split = data.draw(st.booleans())
    for part in (["train", "test"] if split else [""]):
        for label in data.draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3,
                                        unique=True)):
            folder = root / part / label
            folder.mkdir(parents=True)
            for k in range(data.draw(st.integers(0, 6))):
                suffix, content = data.draw(image_file())
                (folder / f"{k}{suffix}").write_bytes(content)
    load("data:image-folder", "image-folder", path=str(root))


# --- hand-written npz files -----------------------------------------------------------------
def test_npz_of_complex_images_is_refused(tmp_path: Path) -> None:
    from fuzz_support import must_fail

    path = tmp_path / "c.npz"
    np.savez(path, x=np.ones((20, 4, 4), dtype=np.complex64), y=np.arange(20) % 2)
    message = must_fail("data:npz-hand", lambda: load_task("npz", path=str(path)))
    assert "complex" in message


def test_npz_error_never_advises_loading_pickles(tmp_path: Path) -> None:
    from fuzz_support import must_fail

    path = tmp_path / "t.npz"
    path.write_bytes(b"hello, this is text")
    message = must_fail("data:npz-hand", lambda: load_task("npz", path=str(path)))
    assert "allow_pickle" not in message and "unsafe" not in message and "trust" not in message, message


def test_summary() -> None:
    print_summary("data:")
