"""Tests of archsearch.data.datasets: loaders, splits and their error messages."""

from __future__ import annotations

import gzip
import math
import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from archsearch.data import DATASETS, Task, list_datasets, load_task
from archsearch.errors import DatasetError, InvalidParameterError, UnknownNameError

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
IDX_IMAGES, IDX_LABELS = 0x803, 0x801


@pytest.fixture(autouse=True)
def _no_data_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARCHSEARCH_DATA_DIR", raising=False)


def one_line(err: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


# ----------------------------------------------------------------------------- helpers


def write_idx(path: Path, array: np.ndarray, magic: int) -> Path:
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as fh:
            fh.write(data)
    else:
        path.write_bytes(data)
    return path


def make_idx_dir(folder: Path, n_train: int = 30, n_test: int = 10, gz: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    ext = ".gz" if gz else ""
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 5, 4))
        write_idx(folder / f"{prefix}-images-idx3-ubyte{ext}", images, IDX_IMAGES)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{ext}", np.arange(n) % 3, IDX_LABELS)
    return folder


def make_ids_npz(
    path: Path, counts: tuple[int, ...] = (100, 60, 40), values: tuple[int, ...] = (3, 7, 42)
) -> Path:
    """An npz whose every example carries its index in pixel (0, 0), with a given test split."""
    y = np.repeat(values, counts)
    x = np.zeros((len(y), 4, 4), dtype=np.float32)
    x[:, 0, 0] = np.arange(len(y))
    x[:, 1, 1] = 1.0
    x_test = np.zeros((6, 4, 4), dtype=np.float32)
    np.savez(path, x=x, y=y, x_test=x_test, y_test=np.resize(np.asarray(values), 6))
    return path


def ids(task: Task, split: str) -> np.ndarray:
    """Recover the example indices written by make_ids_npz."""
    x = getattr(task, f"x_{split}")[:, 0, 0, 0].double()
    raw = x * task.info["std"][0] + task.info["mean"][0]
    return np.rint(raw.numpy()).astype(np.int64)


# ----------------------------------------------------------------------------- digits and splits


def test_digits_task_shapes_dtypes_and_normalisation() -> None:
    task = load_task("digits")
    assert task.input_shape == (1, 8, 8)
    assert task.n_classes == 10
    assert len(task.y_train) + len(task.y_val) + len(task.y_test) == 1797
    assert task.x_train.dtype == task.x_val.dtype == task.x_test.dtype == torch.float32
    assert task.y_train.dtype == task.y_val.dtype == task.y_test.dtype == torch.int64
    assert task.hflip is False
    pool, _ = task.train_and_val()  # statistics are those of training data before the val split
    assert abs(pool.mean().item()) < 1e-4
    assert abs(pool.std(correction=0).item() - 1) < 1e-4
    assert len(task.info["mean"]) == len(task.info["std"]) == 1
    assert 0 < task.info["mean"][0] < 16
    assert task.info["classes"] == list(range(10))


def test_digits_test_split_is_stratified_and_fixed_whatever_the_seed() -> None:
    a, b = load_task("digits", seed=0), load_task("digits", seed=5)
    assert torch.equal(a.x_test, b.x_test) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.y_val, b.y_val)
    counts = np.bincount(np.concatenate([t.numpy() for t in (a.y_train, a.y_val, a.y_test)]))
    assert np.array_equal(np.bincount(a.y_test.numpy()), np.rint(0.2 * counts))


def test_validation_split_is_stratified_and_disjoint(tmp_path: Path) -> None:
    task = load_task("npz", path=str(make_ids_npz(tmp_path / "d.npz")), val_fraction=0.2)
    train, val = ids(task, "train"), ids(task, "val")
    assert not set(train) & set(val)
    assert sorted(np.concatenate([train, val])) == list(range(200))
    assert np.bincount(task.y_val.numpy()).tolist() == [20, 12, 8]
    assert np.bincount(task.y_train.numpy()).tolist() == [80, 48, 32]
    assert task.info["classes"] == [3, 7, 42] and task.n_classes == 3


def test_validation_split_follows_the_seed(tmp_path: Path) -> None:
    path = str(make_ids_npz(tmp_path / "d.npz"))
    first, again, other = (load_task("npz", path=path, seed=s) for s in (1, 1, 2))
    assert np.array_equal(ids(first, "val"), ids(again, "val"))
    assert not np.array_equal(ids(first, "val"), ids(other, "val"))
    assert torch.equal(first.x_test, other.x_test)


def test_every_class_keeps_a_training_example(tmp_path: Path) -> None:
    path = str(make_ids_npz(tmp_path / "d.npz", counts=(1, 2, 10)))
    task = load_task("npz", path=path, val_fraction=0.9)
    assert np.bincount(task.y_train.numpy()).tolist() == [1, 1, 1]
    assert np.bincount(task.y_val.numpy(), minlength=3).tolist() == [0, 1, 9]


def test_n_train_subsamples_stratified_and_leaves_validation_alone(tmp_path: Path) -> None:
    path = str(make_ids_npz(tmp_path / "d.npz"))
    full, small = load_task("npz", path=path, seed=3), load_task("npz", path=path, seed=3, n_train=50)
    assert np.bincount(small.y_train.numpy()).tolist() == [25, 15, 10]
    assert set(ids(small, "train")) <= set(ids(full, "train"))
    assert np.array_equal(ids(small, "val"), ids(full, "val"))
    assert small.info["n_train"] == 50
    assert len(load_task("npz", path=path, n_train=10_000).y_train) == 160


@pytest.mark.parametrize("value", [0, 1, 1.5, -0.1, float("nan"), "0.2", True, None])
def test_bad_val_fraction_is_refused(value: object) -> None:
    with pytest.raises(InvalidParameterError, match="'val_fraction' parameter of load_task") as err:
        load_task("digits", val_fraction=value)  # type: ignore[arg-type]
    one_line(err)


def test_val_fraction_message() -> None:
    with pytest.raises(InvalidParameterError) as err:
        load_task("digits", val_fraction=1.5)
    assert str(err.value) == (
        "The 'val_fraction' parameter of load_task must be a float in (0, 1). Got 1.5 instead."
    )


@pytest.mark.parametrize(
    ("kwargs", "param"), [({"n_train": 0}, "n_train"), ({"n_train": 2.5}, "n_train"), ({"seed": -1}, "seed")]
)
def test_bad_n_train_and_seed_are_refused(kwargs: dict[str, object], param: str) -> None:
    with pytest.raises(InvalidParameterError, match=f"'{param}' parameter of load_task"):
        load_task("digits", **kwargs)  # type: ignore[arg-type]


def test_unknown_dataset_name_suggests_the_closest() -> None:
    with pytest.raises(UnknownNameError) as err:
        load_task("fashion_mnist")
    assert "Did you mean 'fashion-mnist'?" in one_line(err)
    assert "archsearch.list_datasets()" in str(err.value)
    assert isinstance(err.value, KeyError)


def test_list_datasets() -> None:
    assert set(list_datasets()) == {"digits", "fashion-mnist", "mnist", "cifar10", "npz", "image-folder"}
    assert list_datasets("*mnist") == ["fashion-mnist", "mnist"]
    assert "npz" in DATASETS


# ----------------------------------------------------------------------------- IDX


@pytest.mark.skipif(
    not (FASHION_DIR / "train-images-idx3-ubyte.gz").is_file(), reason="dataset-fashion-mnist not installed"
)
def test_fashion_mnist_from_the_debian_package() -> None:
    task = load_task("fashion-mnist", n_train=100)
    assert task.input_shape == (1, 28, 28) and task.n_classes == 10
    assert (len(task.y_train), len(task.y_val), len(task.y_test)) == (100, 12000, 10000)
    assert task.hflip is True
    assert task.info["source"] == str(FASHION_DIR)
    assert task.info["mean"][0] == pytest.approx(72.94, abs=0.01)


@pytest.mark.parametrize("gz", [True, False])
def test_idx_files_are_parsed(tmp_path: Path, gz: bool) -> None:
    folder = make_idx_dir(tmp_path / "mnist", gz=gz)
    task = load_task("mnist", data_dir=folder, val_fraction=0.2)
    assert task.input_shape == (1, 5, 4) and task.n_classes == 3
    assert (len(task.y_train) + len(task.y_val), len(task.y_test)) == (30, 10)
    assert task.hflip is False
    expected = np.random.default_rng(0).integers(0, 256, (30, 5, 4))
    pool, _ = task.train_and_val()
    restored = np.rint((pool.double() * task.info["std"][0] + task.info["mean"][0]).numpy())
    assert sorted(restored.sum((1, 2, 3))) == sorted(expected.sum((1, 2)))


def test_truncated_idx_file_is_reported(tmp_path: Path) -> None:
    folder = make_idx_dir(tmp_path, gz=False)
    file = folder / "train-images-idx3-ubyte"
    file.write_bytes(file.read_bytes()[:-7])
    with pytest.raises(DatasetError, match="truncated") as err:
        load_task("mnist", data_dir=folder)
    assert str(file) in one_line(err)


def test_truncated_gzip_stream_is_reported(tmp_path: Path) -> None:
    folder = make_idx_dir(tmp_path)
    file = folder / "t10k-labels-idx1-ubyte.gz"
    file.write_bytes(file.read_bytes()[:12])
    with pytest.raises(DatasetError, match="Cannot read") as err:
        load_task("mnist", data_dir=folder)
    assert str(file) in one_line(err)


def test_wrong_magic_number_is_reported(tmp_path: Path) -> None:
    folder = make_idx_dir(tmp_path)
    file = folder / "train-labels-idx1-ubyte.gz"
    write_idx(file, np.zeros((30, 2)), IDX_IMAGES - 1)  # a 2-dimensional IDX: not labels
    with pytest.raises(DatasetError, match="magic number 0x00000802, expected 0x00000801") as err:
        load_task("mnist", data_dir=folder)
    assert str(file) in one_line(err)


def test_images_and_labels_counts_must_agree(tmp_path: Path) -> None:
    folder = make_idx_dir(tmp_path)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.zeros(9), IDX_LABELS)
    with pytest.raises(DatasetError, match="10 images but .* 9 labels"):
        load_task("mnist", data_dir=folder)


def test_missing_dataset_folder_names_where_it_looked(tmp_path: Path) -> None:
    nowhere = tmp_path / "nowhere"
    with pytest.raises(DatasetError) as err:
        load_task("fashion-mnist", data_dir=nowhere)
    message = one_line(err)
    assert message.startswith(
        "Dataset 'fashion-mnist' not found: looked for train-images-idx3-ubyte.gz in "
    )
    assert str(nowhere) in message
    assert "apt-get install dataset-fashion-mnist" in message and "ARCHSEARCH_DATA_DIR" in message


@pytest.mark.skipif(Path("/usr/share/datasets/mnist").exists(), reason="MNIST is installed here")
def test_missing_mnist_points_at_the_default_folder() -> None:
    with pytest.raises(DatasetError) as err:
        load_task("mnist")
    assert "/usr/share/datasets/mnist" in one_line(err)
    assert "--data-dir" in str(err.value)


def test_missing_single_idx_file_is_named(tmp_path: Path) -> None:
    folder = make_idx_dir(tmp_path)
    (folder / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match=f"looked for t10k-images-idx3-ubyte.gz in {folder}"):
        load_task("mnist", data_dir=folder)


@pytest.mark.parametrize("nested", [True, False])
def test_data_dir_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nested: bool
) -> None:
    make_idx_dir(tmp_path / "fashion-mnist" if nested else tmp_path)
    monkeypatch.setenv("ARCHSEARCH_DATA_DIR", str(tmp_path))
    task = load_task("fashion-mnist")
    assert task.input_shape == (1, 5, 4)
    assert task.info["source"] == str(tmp_path / "fashion-mnist" if nested else tmp_path)


def test_explicit_data_dir_beats_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_idx_dir(tmp_path / "env" / "mnist", n_train=30)
    make_idx_dir(tmp_path / "arg", n_train=40)
    monkeypatch.setenv("ARCHSEARCH_DATA_DIR", str(tmp_path / "env"))
    assert len(load_task("mnist", data_dir=tmp_path / "arg").train_and_val()[1]) == 40
    assert len(load_task("mnist").train_and_val()[1]) == 30


# ----------------------------------------------------------------------------- CIFAR-10


def make_cifar_dir(root: Path, protocol: int = 2, per_batch: int = 4) -> Path:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {
            b"batch_label": name.encode(),
            b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
            b"labels": [int(v) for v in rng.integers(0, 10, per_batch)],
            b"filenames": [b"a.png"] * per_batch,
        }
        (folder / name).write_bytes(pickle.dumps(batch, protocol=protocol))
    return folder


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_cifar10_from_a_batches_folder(tmp_path: Path, protocol: int) -> None:
    folder = make_cifar_dir(tmp_path, protocol)
    for location in (tmp_path, folder):  # the folder or its parent
        task = load_task("cifar10", data_dir=location)
        assert task.input_shape == (3, 32, 32) and task.hflip is True
        assert (len(task.y_train) + len(task.y_val), len(task.y_test)) == (20, 4)
        assert len(task.info["mean"]) == 3 and task.info["source"] == str(folder)
    with open(folder / "test_batch", "rb") as fh:
        raw = pickle.load(fh)
    std, mean = (torch.tensor(task.info[k]).view(1, 3, 1, 1) for k in ("std", "mean"))
    restored = task.x_test * std + mean
    assert np.array_equal(np.rint(restored.numpy()).reshape(4, 3072), raw[b"data"])
    assert task.y_test.tolist() == raw[b"labels"]


def test_cifar10_under_the_environment_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_cifar_dir(tmp_path)
    monkeypatch.setenv("ARCHSEARCH_DATA_DIR", str(tmp_path))
    assert load_task("cifar10").input_shape == (3, 32, 32)


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


def test_cifar10_refuses_a_malicious_pickle(tmp_path: Path) -> None:
    folder = make_cifar_dir(tmp_path)
    marker = tmp_path / "pwned"
    evil = pickle.dumps({b"data": _Evil(marker), b"labels": []}, protocol=2)
    (folder / "data_batch_2").write_bytes(evil)
    with pytest.raises(DatasetError, match="refused") as err:
        load_task("cifar10", data_dir=folder)
    assert str(folder / "data_batch_2") in one_line(err)
    assert not marker.exists()


def test_cifar10_malformed_batches(tmp_path: Path) -> None:
    folder = make_cifar_dir(tmp_path)
    (folder / "data_batch_3").write_bytes(pickle.dumps([1, 2, 3], protocol=2))
    with pytest.raises(DatasetError, match="not a CIFAR-10 batch"):
        load_task("cifar10", data_dir=folder)
    (folder / "data_batch_3").write_bytes(b"\x80\x02garbage")
    with pytest.raises(DatasetError, match="Cannot read CIFAR-10 batch") as err:
        load_task("cifar10", data_dir=folder)
    one_line(err)
    (folder / "test_batch").unlink()
    (folder / "data_batch_3").write_bytes((folder / "data_batch_4").read_bytes())
    with pytest.raises(DatasetError, match="test_batch is missing"):
        load_task("cifar10", data_dir=folder)


def test_cifar10_missing_gives_a_hint(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as err:
        load_task("cifar10", data_dir=tmp_path)
    message = one_line(err)
    assert str(tmp_path) in message and "cifar-10-python.tar.gz" in message and "--data-dir" in message
    with pytest.raises(DatasetError, match="ARCHSEARCH_DATA_DIR unset"):
        load_task("cifar10")


# ----------------------------------------------------------------------------- npz


def test_npz_channels_last_and_carved_test_split(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "d.npz"
    np.savez(path, x=rng.random((50, 6, 5, 3)), y=np.repeat([-1, 5], 25))
    task = load_task("npz", path=str(path))
    assert task.input_shape == (3, 6, 5) and task.n_classes == 2
    assert task.info["classes"] == [-1, 5]
    assert np.bincount(task.y_test.numpy()).tolist() == [5, 5]
    assert len(task.info["mean"]) == 3
    assert torch.equal(task.x_test, load_task("npz", data_dir=path, seed=9).x_test)


def test_npz_with_given_test_split(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, x=np.ones((10, 1, 4, 4)), y=np.arange(10) % 2,
             x_test=np.ones((3, 1, 4, 4)), y_test=np.array([0, 1, 2]))  # fmt: skip
    task = load_task("npz", path=str(path))
    assert task.input_shape == (1, 4, 4) and task.n_classes == 3 and len(task.y_test) == 3
    assert task.info["std"] == [1.0]  # a constant channel is centred, not scaled


X, Y = np.zeros((4, 3, 3)), np.zeros(4, int)


@pytest.mark.parametrize(
    ("arrays", "problem"),
    [
        ({"x": X}, "lacks the array 'y'"),
        ({"x": X, "y": np.zeros(5, int)}, "holds 4 examples but 'y' holds 5 labels"),
        ({"x": np.full((4, 3, 3), np.nan), "y": Y}, "NaN"),
        ({"x": X, "y": np.zeros(4)}, "must be integer labels"),
        ({"x": np.zeros((4, 3)), "y": Y}, "must be a non-empty numeric array"),
        ({"x": X, "y": Y, "x_test": X[:2]}, "lacks the array 'y_test'"),
        ({"x": X, "y": Y, "x_test": np.zeros((2, 3, 4)), "y_test": Y[:2]}, "'x_test' images are"),
    ],
)
def test_bad_npz_files(tmp_path: Path, arrays: dict[str, np.ndarray], problem: str) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DatasetError, match=problem) as err:
        load_task("npz", path=str(path))
    assert str(path) in one_line(err)


def test_npz_that_is_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "text.npz"
    path.write_text("x,y\n1,2\n")
    with pytest.raises(DatasetError, match="is not an .npz file") as err:
        load_task("npz", path=str(path))
    one_line(err)
    np.save(tmp_path / "one.npy", np.zeros(3))
    with pytest.raises(DatasetError, match="single .npy array"):
        load_task("npz", path=str(tmp_path / "one.npy"))


def test_npz_location_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not found"):
        load_task("npz", path=str(tmp_path / "missing.npz"))
    with pytest.raises(InvalidParameterError, match="needs a location"):
        load_task("npz")


# ----------------------------------------------------------------------------- image folder


def write_images(folder: Path, n: int, size: tuple[int, int] = (6, 5), mode: str = "RGB") -> None:
    image = pytest.importorskip("PIL.Image")
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(str(folder)))
    shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
    for i in range(n):
        image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(folder / f"{i}.png")


def test_image_folder_with_resizing(tmp_path: Path) -> None:
    write_images(tmp_path / "cat", 5)
    write_images(tmp_path / "dog", 5)
    write_images(tmp_path / "dog" / "big", 0)  # nested folders are not images
    write_images(tmp_path / "odd", 1, size=(8, 8))  # one image of another size
    write_images(tmp_path / "odd2", 1)
    task = load_task("image-folder", path=str(tmp_path))
    assert task.input_shape == (3, 5, 6) and task.n_classes == 4 and task.hflip is True
    assert task.info["classes"] == ["cat", "dog", "odd", "odd2"]
    assert task.info["n_resized"] == 1
    assert np.bincount(task.y_test.numpy()).tolist() == [1, 1]


def test_image_folder_grayscale_with_train_and_test(tmp_path: Path) -> None:
    for split, n in (("train", 4), ("test", 2)):
        write_images(tmp_path / split / "a", n, mode="L")
        write_images(tmp_path / split / "b", n, mode="L")
    task = load_task("image-folder", data_dir=tmp_path)
    assert task.input_shape == (1, 5, 6)
    assert len(task.y_train) + len(task.y_val) == 8 and task.y_test.tolist() == [0, 0, 1, 1]


def test_image_folder_errors(tmp_path: Path) -> None:
    write_images(tmp_path / "a", 2)
    (tmp_path / "b").mkdir()
    with pytest.raises(DatasetError, match="holds no images") as err:
        load_task("image-folder", path=str(tmp_path))
    assert str(tmp_path / "b") in one_line(err)
    (tmp_path / "b" / "broken.png").write_bytes(b"not an image")
    with pytest.raises(DatasetError, match="Cannot read image") as err:
        load_task("image-folder", path=str(tmp_path))
    assert str(tmp_path / "b" / "broken.png") in one_line(err)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no class sub-folders"):
        load_task("image-folder", path=str(tmp_path / "empty"))
    with pytest.raises(DatasetError, match="not found"):
        load_task("image-folder", path=str(tmp_path / "missing"))


def test_image_folder_without_pillow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(DatasetError) as err:
        load_task("image-folder", path=str(tmp_path))
    assert str(err.value) == "Loading an image folder needs Pillow: pip install 'archsearch[images]'."


def test_idx_dims_are_big_endian(tmp_path: Path) -> None:
    folder = make_idx_dir(tmp_path, n_train=300, n_test=2)  # 300 needs two bytes
    assert len(load_task("mnist", data_dir=folder).train_and_val()[1]) == 300
    assert math.isfinite(load_task("mnist", data_dir=folder).info["std"][0])


# ----------------------------------------------------------------------------- splits too small


def test_a_one_example_dataset_is_refused_naming_the_sizes(tmp_path: Path) -> None:
    path = tmp_path / "one.npz"
    np.savez(path, x=np.zeros((1, 4, 4)), y=np.zeros(1, dtype=int))
    with pytest.raises(DatasetError, match=r"validation split .* empty") as err:
        load_task("npz", path=str(path))
    assert "1 example" in one_line(err)


def test_one_example_per_class_leaves_no_validation(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((3, 4, 4)), y=np.arange(3), x_test=np.zeros((3, 4, 4)),
             y_test=np.arange(3))
    with pytest.raises(DatasetError, match=r"0 validation examples") as err:
        load_task("npz", path=str(path))
    one_line(err)


def test_n_train_below_the_number_of_classes_is_refused() -> None:
    with pytest.raises(InvalidParameterError, match=r"n_train=1 .* 10 classes") as err:
        load_task("digits", n_train=1)
    one_line(err)
    assert len(load_task("digits", n_train=10).y_train.unique()) == 10
