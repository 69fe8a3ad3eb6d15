"""Task generators: shapes, marker positions, baselines, data loading and its errors."""

import gzip
import math

import numpy as np
import pytest

from orthopt.rnn import tasks
from orthopt.rnn.losses import cross_entropy

EPS = np.finfo(np.float64).eps


@pytest.mark.parametrize("delay", [1, 7, 50])
def test_copying_layout(delay):
    rng = np.random.default_rng(0)
    x, y = tasks.copying_batch(rng, 16, delay)
    T = delay + 20
    assert x.shape == (T, 16, 10) and y.shape == (T, 16)
    tokens = np.argmax(x, axis=-1)
    np.testing.assert_array_equal(x.sum(axis=-1), 1)  # one-hot
    seq = tokens[:10]
    assert seq.min() >= 1 and seq.max() <= 8
    np.testing.assert_array_equal(tokens[10:10 + delay], 0)
    np.testing.assert_array_equal(tokens[10 + delay], 9)   # the marker
    np.testing.assert_array_equal(tokens[11 + delay:], 0)
    np.testing.assert_array_equal(y[:T - 10], 0)
    np.testing.assert_array_equal(y[T - 10:], seq)        # copy the symbols at the end


def test_copying_baseline_is_memoryless_cross_entropy():
    task = tasks.CopyingTask(delay=30)
    assert task.baseline == pytest.approx(10 * math.log(8) / 50, rel=EPS)
    _, y = task.train_batch(np.random.default_rng(1), 8)
    # predict "blank" until the last 10 steps, then uniform over {1..8}
    logits = np.full(y.shape + (9,), -60.0)
    logits[:-10, :, 0] = 0.0
    logits[-10:, :, 1:] = 0.0
    loss, _ = cross_entropy(logits, y)
    assert float(loss) == pytest.approx(task.baseline, rel=1e-12)
    assert task.accuracy_mask() == slice(40, 50)


def test_adding_markers_and_baseline():
    rng = np.random.default_rng(0)
    x, y = tasks.adding_batch(rng, 20000, 50)
    assert x.shape == (50, 20000, 2) and y.shape == (20000,)
    markers = x[:, :, 1]
    np.testing.assert_array_equal(markers.sum(axis=0), 2)
    np.testing.assert_array_equal(markers[:25].sum(axis=0), 1)  # one in each half
    np.testing.assert_array_equal(markers[25:].sum(axis=0), 1)
    np.testing.assert_allclose(y, (x[:, :, 0] * markers).sum(axis=0), atol=10 * EPS)
    # predicting the mean 1 gives MSE = Var(u₁ + u₂) = 1/6; 5σ of the estimate ≈ 4e-3
    assert np.mean((y - 1) ** 2) == pytest.approx(1 / 6, abs=4e-3)
    assert tasks.AddingTask(50).baseline == 1 / 6


def test_digits_split_and_permutation():
    plain = tasks.load_digits_task()
    assert plain.x_train.shape == (64, 1797 - 360, 1) and plain.x_test.shape == (64, 360, 1)
    assert plain.x_train.min() >= 0 and plain.x_train.max() <= 1
    again = tasks.load_digits_task()
    np.testing.assert_array_equal(plain.y_test, again.y_test)  # fixed split
    perm = tasks.load_digits_task(permuted=True)
    order = np.random.RandomState(92916).permutation(64)
    np.testing.assert_array_equal(perm.x_test[:, :, 0], plain.x_test[order, :, 0])
    x, y = plain.train_batch(np.random.default_rng(0), 32)
    assert x.shape == (64, 32, 1) and y.shape == (32,)
    assert plain.output == "last" and plain.baseline == pytest.approx(math.log(10))


def _write_idx(path, array, gz):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(s).to_bytes(4, "big")
                                                     for s in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    opener = gzip.open if gz else open
    with opener(path, "wb") as f:
        f.write(data)


@pytest.mark.parametrize("layout", ["idx", "idx.gz", "npz"])
def test_mnist_loading(tmp_path, layout):
    rng = np.random.default_rng(0)
    xtr = rng.integers(0, 256, size=(5, 28, 28))
    ytr = rng.integers(0, 10, size=5)
    xte = rng.integers(0, 256, size=(3, 28, 28))
    yte = rng.integers(0, 10, size=3)
    if layout == "npz":
        np.savez(tmp_path / "mnist.npz", x_train=xtr, y_train=ytr, x_test=xte, y_test=yte)
    else:
        gz = layout.endswith("gz")
        suffix = ".gz" if gz else ""
        for name, arr in (("train-images-idx3-ubyte", xtr), ("train-labels-idx1-ubyte", ytr),
                          ("t10k-images-idx3-ubyte", xte), ("t10k-labels-idx1-ubyte", yte)):
            _write_idx(tmp_path / (name + suffix), arr, gz)
    task = tasks.load_mnist_task(tmp_path)
    assert task.x_train.shape == (784, 5, 1) and task.x_test.shape == (784, 3, 1)
    np.testing.assert_allclose(task.x_train[:, 2, 0], xtr[2].reshape(-1) / 255, atol=EPS)
    np.testing.assert_array_equal(task.y_test, yte)
    permuted = tasks.load_mnist_task(tmp_path, permuted=True)
    order = np.random.RandomState(92916).permutation(784)
    np.testing.assert_array_equal(permuted.x_train[:, 2, 0], task.x_train[order, 2, 0])


def test_missing_mnist_says_where(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        tasks.load_mnist_task(tmp_path)
    text = str(err.value)
    assert str(tmp_path) in text and "train-images-idx3-ubyte" in text and "mnist.npz" in text
    with pytest.raises(ValueError, match="data_dir"):
        tasks.make_task("mnist")


def test_bad_task_inputs():
    with pytest.raises(ValueError, match="unknown task"):
        tasks.make_task("parity")
    with pytest.raises(ValueError, match="delay"):
        tasks.CopyingTask(delay=0)
    with pytest.raises(ValueError, match="shape"):
        tasks.ClassificationTask("bad", np.zeros((4, 5, 1)), np.zeros(4), np.zeros((2, 5)),
                                 np.zeros(2))
    with pytest.raises(ValueError, match="length"):
        tasks.ClassificationTask("bad", np.zeros((4, 5)), np.zeros(4), np.zeros((2, 6)),
                                 np.zeros(2))
