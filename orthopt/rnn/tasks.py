r"""The long-memory benchmark tasks of the orthogonal-RNN papers.

Every task produces time-major inputs ``x`` of shape (T, B, d) (float64,
NumPy) and targets, and knows its loss, output mode and the loss of the
trivial "memoryless" predictor it has to beat.

copying (Arjovsky et al. 2016; expRNN's ``copying_data``)
    K = 10 symbols drawn from {1, …, 8}, then L blanks (0), then the marker 9,
    then K − 1 blanks; length T = L + 2K = L + 20. The target is blank
    everywhere except the last K steps, which must reproduce the symbols.
    Inputs are one-hot over 10 symbols, outputs are 9 classes {0, …, 8}. A model
    that outputs blanks and then guesses uniformly scores cross-entropy
    K·ln 8 / (L + 2K), the baseline. Accuracy is measured on the last K steps.
adding (Hochreiter & Schmidhuber 1997)
    Two channels: values ~ U(0, 1) and a marker channel with exactly two ones,
    one in each half of the sequence. The target is the sum of the two marked
    values; predicting the mean 1 gives MSE Var = 2/12 = 1/6, the baseline.
digits / permuted digits
    scikit-learn's bundled 8×8 digits, read pixel by pixel (T = 64, d = 1,
    values / 16), 10 classes predicted after the last pixel. Fixed split:
    360 test images chosen by ``RandomState(0)``. The permuted variant shuffles
    the pixel order with ``RandomState(92916).permutation(64)``.
mnist / permuted mnist
    Pixel MNIST (T = 784, values / 255), permutation
    ``RandomState(92916).permutation(784)`` as in expRNN. Read from a directory
    holding either ``mnist.npz`` (keys x_train, y_train, x_test, y_test) or the
    four IDX files (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, optionally ``.gz``).
"""

from __future__ import annotations

import gzip
import math
import os

import numpy as np

__all__ = [
    "TASKS",
    "Task",
    "CopyingTask",
    "AddingTask",
    "ClassificationTask",
    "copying_batch",
    "adding_batch",
    "load_digits_task",
    "load_mnist_task",
    "make_task",
    "MNIST_PERMUTATION_SEED",
]

TASKS = ("copying", "adding", "digits", "mnist")
MNIST_PERMUTATION_SEED = 92916
_EVAL_SEED = 20190101  # held-out batches of the synthetic tasks: never the training stream


def copying_batch(rng, batch_size, delay, symbols=10):
    """One batch of the copying task.

    Parameters
    ----------
    rng : numpy.random.Generator
    batch_size : int
    delay : int
        L, the number of blanks between the symbols and the marker.
    symbols : int
        K, the number of symbols to remember (10 in the papers).

    Returns
    -------
    x : numpy.ndarray, shape (L + 2K, B, 10), float64 one-hot
    y : numpy.ndarray, shape (L + 2K, B), int64 in {0, …, 8}
    """
    seq = rng.integers(1, 9, size=(batch_size, symbols))
    length = delay + 2 * symbols
    tokens = np.zeros((batch_size, length), dtype=np.int64)
    tokens[:, :symbols] = seq
    tokens[:, symbols + delay] = 9
    target = np.zeros((batch_size, length), dtype=np.int64)
    target[:, -symbols:] = seq
    x = np.eye(10)[tokens.T]
    return x, target.T.copy()


def adding_batch(rng, batch_size, length):
    """One batch of the adding task.

    Returns
    -------
    x : numpy.ndarray, shape (T, B, 2): channel 0 values ~ U(0, 1), channel 1 the markers
    y : numpy.ndarray, shape (B,): sum of the two marked values
    """
    if length < 2:
        raise ValueError(f"the adding task needs length >= 2, got {length}")
    values = rng.uniform(0.0, 1.0, size=(batch_size, length))
    half = length // 2
    first = rng.integers(0, half, size=batch_size)
    second = rng.integers(half, length, size=batch_size)
    markers = np.zeros((batch_size, length))
    rows = np.arange(batch_size)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    y = values[rows, first] + values[rows, second]
    x = np.stack([values.T, markers.T], axis=-1)
    return x, y


class Task:
    """Common interface of the tasks.

    Attributes
    ----------
    name : str
    input_size, output_size : int
    output : {"all", "last"}
        Which outputs the loss uses.
    loss : {"cross_entropy", "mse"}
    baseline : float or None
        Loss of the memoryless predictor.
    length : int
        Sequence length T.
    """

    name = "task"
    loss = "cross_entropy"
    output = "last"
    baseline = None

    def train_batch(self, rng, batch_size):
        """(x, y) for one training step, drawn with ``rng`` (the only randomness used)."""
        raise NotImplementedError

    def eval_data(self):
        """Fixed held-out (x, y)."""
        raise NotImplementedError

    def accuracy_mask(self):
        """Time steps (for ``output="all"``) on which accuracy is measured, or None."""
        return None


class CopyingTask(Task):
    """The copying memory task with delay L (see the module docstring)."""

    name = "copying"
    output = "all"

    def __init__(self, delay=200, symbols=10, eval_size=500):
        if int(delay) != delay or delay < 1:
            raise ValueError(f"copying delay L must be a positive integer, got {delay!r}")
        self.delay, self.symbols = int(delay), int(symbols)
        self.length = self.delay + 2 * self.symbols
        self.input_size, self.output_size = 10, 9
        self.baseline = self.symbols * math.log(8) / self.length
        self.eval_size = eval_size
        self._eval = None

    def train_batch(self, rng, batch_size):
        return copying_batch(rng, batch_size, self.delay, self.symbols)

    def eval_data(self):
        if self._eval is None:
            self._eval = copying_batch(np.random.default_rng(_EVAL_SEED), self.eval_size,
                                       self.delay, self.symbols)
        return self._eval

    def accuracy_mask(self):
        return slice(self.length - self.symbols, self.length)


class AddingTask(Task):
    """The adding problem with sequence length T."""

    name = "adding"
    loss = "mse"
    baseline = 1.0 / 6.0

    def __init__(self, length=200, eval_size=1000):
        if int(length) != length or length < 2:
            raise ValueError(f"adding length must be an integer >= 2, got {length!r}")
        self.length = int(length)
        self.input_size, self.output_size = 2, 1
        self.eval_size = eval_size
        self._eval = None

    def train_batch(self, rng, batch_size):
        return adding_batch(rng, batch_size, self.length)

    def eval_data(self):
        if self._eval is None:
            self._eval = adding_batch(np.random.default_rng(_EVAL_SEED), self.eval_size, self.length)
        return self._eval


class ClassificationTask(Task):
    """Sequence classification from fixed arrays (digits, MNIST).

    Parameters
    ----------
    name : str
    x_train, x_test : numpy.ndarray, shape (N, T), float
        One scalar per step; stored time-major as (T, N, 1).
    y_train, y_test : numpy.ndarray of int, shape (N,)
    permutation : numpy.ndarray of int, shape (T,), optional
        Pixel order.
    """

    output = "last"

    def __init__(self, name, x_train, y_train, x_test, y_test, permutation=None, classes=10):
        for label, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
            if x.ndim != 2 or y.ndim != 1 or x.shape[0] != y.shape[0]:
                raise ValueError(f"{label} data must be x of shape (N, T) and y of shape (N,), "
                                 f"got {x.shape} and {y.shape}")
        if x_train.shape[1] != x_test.shape[1]:
            raise ValueError(f"train and test sequences differ in length: {x_train.shape[1]} "
                             f"vs {x_test.shape[1]}")
        self.name = name
        if permutation is not None:
            x_train, x_test = x_train[:, permutation], x_test[:, permutation]
        self.x_train = np.ascontiguousarray(x_train.T[:, :, None], dtype=np.float64)
        self.x_test = np.ascontiguousarray(x_test.T[:, :, None], dtype=np.float64)
        self.y_train = np.asarray(y_train, dtype=np.int64)
        self.y_test = np.asarray(y_test, dtype=np.int64)
        self.length = self.x_train.shape[0]
        self.input_size, self.output_size = 1, classes
        self.baseline = math.log(classes)  # cross-entropy of the uniform guess

    def train_batch(self, rng, batch_size):
        idx = rng.choice(self.y_train.shape[0], size=batch_size, replace=False)
        return self.x_train[:, idx, :], self.y_train[idx]

    def eval_data(self):
        return self.x_test, self.y_test


def load_digits_task(permuted=False, test_size=360):
    """Sequential (optionally permuted) 8×8 digits from scikit-learn, 64 steps."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = data.data / 16.0
    y = data.target
    order = np.random.RandomState(0).permutation(len(y))
    test, train = order[:test_size], order[test_size:]
    perm = np.random.RandomState(MNIST_PERMUTATION_SEED).permutation(64) if permuted else None
    name = "permuted digits" if permuted else "digits"
    return ClassificationTask(name, x[train], y[train], x[test], y[test], permutation=perm)


_IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def _read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 8:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes (bad magic number)")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * k: 8 + 4 * k], "big") for k in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: header says {dims} but holds {data.size} bytes")
    return data.reshape(dims)


def _find(directory, base):
    for suffix in ("", ".gz"):
        for name in (base, base.replace("-idx", ".idx")):
            path = os.path.join(directory, name + suffix)
            if os.path.exists(path):
                return path
    return None


def load_mnist_arrays(directory):
    """(x_train, y_train, x_test, y_test) with x of shape (N, 784) in [0, 1].

    Raises
    ------
    FileNotFoundError
        Saying which files to put where, when neither layout is present.
    """
    directory = os.path.expanduser(str(directory))
    npz = os.path.join(directory, "mnist.npz")
    if os.path.exists(npz):
        with np.load(npz) as f:
            arrays = [f[k] for k in ("x_train", "y_train", "x_test", "y_test")]
    else:
        paths = {k: _find(directory, v) for k, v in _IDX_FILES.items()}
        missing = [_IDX_FILES[k] for k, p in paths.items() if p is None]
        if missing:
            raise FileNotFoundError(
                f"MNIST not found in {directory!r}: missing {', '.join(missing)}. Put either "
                f"'mnist.npz' (arrays x_train, y_train, x_test, y_test) or the four IDX files "
                f"{', '.join(_IDX_FILES.values())} (optionally .gz) from "
                f"http://yann.lecun.com/exdb/mnist/ into that directory, and pass it with "
                f"--data-dir.")
        arrays = [_read_idx(paths[k]) for k in ("x_train", "y_train", "x_test", "y_test")]
    x_train, y_train, x_test, y_test = arrays
    x_train = x_train.reshape(x_train.shape[0], -1) / 255.0
    x_test = x_test.reshape(x_test.shape[0], -1) / 255.0
    return x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64)


def load_mnist_task(directory, permuted=False):
    """Pixel-by-pixel MNIST (T = 784), optionally with expRNN's fixed permutation."""
    x_train, y_train, x_test, y_test = load_mnist_arrays(directory)
    perm = (np.random.RandomState(MNIST_PERMUTATION_SEED).permutation(x_train.shape[1])
            if permuted else None)
    name = "permuted mnist" if permuted else "mnist"
    return ClassificationTask(name, x_train, y_train, x_test, y_test, permutation=perm)


def make_task(name, *, length=None, permuted=False, data_dir=None):
    """Build a task by name: "copying" (length = delay L), "adding" (length = T), "digits", "mnist"."""
    if name == "copying":
        return CopyingTask(delay=200 if length is None else length)
    if name == "adding":
        return AddingTask(length=200 if length is None else length)
    if name == "digits":
        return load_digits_task(permuted=permuted)
    if name == "mnist":
        if data_dir is None:
            raise ValueError("the mnist task needs data_dir: a directory with mnist.npz or the "
                             "four IDX files (pass --data-dir DIR)")
        return load_mnist_task(data_dir, permuted=permuted)
    raise ValueError(f"unknown task {name!r}; use one of {TASKS}")
