r"""Training loop for the orthogonal RNNs: batches, two optimizers, logs, checkpoints, resume.

One iteration::

    x, y  ← task.train_batch(rng, batch_size)
    W     ← method.weight
    ŷ     ← forward(W, V, b, U, c; x);   L, ∂L/∂ŷ ← loss(ŷ, y)
    grads ← backward(...)               (BPTT, G = ∂L/∂W)
    clip the global gradient norm (optional)
    V, b, β, U, c ← RMSprop/Adam(lr)    W ← method.update(G, orth_lr)

Reproducibility: every random draw of a run (initial weights, batches, the
random choices of some methods) comes from one ``numpy.random.Generator``
seeded by ``seed``. A checkpoint stores that generator's state, the iteration,
all weights and both optimizers' states, so ``resume=True`` continues the very
same trajectory: the final weights equal those of an uninterrupted run bit for
bit. Ctrl-C finishes the current iteration, writes a checkpoint and stops
(press it twice to abort at once; see :mod:`.interrupt`). A non-finite loss
stops the run before the update, keeps the last checkpoint, and says so in
``result["message"]``.

Outputs in ``out`` (when given): ``config.json``, ``log.csv`` and
``log.jsonl`` (one row per iteration), ``checkpoint.npz`` and ``curves.png``.
The run holds ``out`` exclusively, refuses a directory that already holds a
run unless resuming or overwriting, and replaces files whole (see
:mod:`.rundir`).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import math
import os
import time

import numpy as np

from ..backend import device_of, get_namespace, to_float
from . import cell
from .checkpoint import load_checkpoint, save_checkpoint
from .interrupt import SigintFlag
from .rundir import (
    DamagedFileError,
    RunRefusedError,
    atomic_write_text,
    check_training_checkpoint,
    holds_a_run,
    lock_run_directory,
    read_log,
    remove_temporaries,
)
from .losses import accuracy, cross_entropy, mean_squared_error
from .methods import METHODS, make_method, orthogonality_error
from .optimizers import OPTIMIZERS, make_optimizer
from .parametrizations import INITIALIZATIONS
from .tasks import TASKS, Task, make_task

__all__ = ["TrainConfig", "Trainer", "train"]

LOG_FIELDS = ("iteration", "loss", "accuracy", "eval_loss", "eval_accuracy", "grad_norm",
              "lr", "orth_lr", "orthogonality", "seconds")


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a run (saved as ``config.json``).

    Attributes
    ----------
    task : {"copying", "adding", "digits", "mnist"}
    length : int or None
        Copying: the delay L (default 200); adding: the sequence length (default 200).
    permuted : bool
        Permuted pixel order (digits, mnist).
    data_dir : str or None
        Directory with MNIST files.
    method : str
        One of :data:`orthopt.rnn.methods.METHODS`.
    hidden : int
        Hidden size n ≥ 1.
    field : {"real", "complex"}
    nonlinearity : {"modrelu", "tanh", "relu"}
    init : {"henaff", "cayley", "orthogonal", "identity"}
    iterations, batch_size : int
    optimizer : {"rmsprop", "adam"}
    lr, orth_lr : float
        Learning rates of the other weights and of the orthogonal parameter.
    lr_decay, lr_decay_every : float, int
        Both learning rates are multiplied by ``lr_decay`` every ``lr_decay_every``
        iterations (0: constant).
    clip : float or None
        Maximum global gradient norm (None: no clipping).
    seed : int
    eval_every, checkpoint_every : int
        Evaluate on held-out data / write a checkpoint every so many iterations (0: never;
        both also happen at the end).
    dtype : {"float64", "float32"}
    rebase_every, rho, d_max, retraction, rank, approximation, lr_divider, rule, block
        Method options (see :func:`orthopt.rnn.methods.make_method`).
    """

    task: str = "copying"
    length: int | None = None
    permuted: bool = False
    data_dir: str | None = None
    method: str = "exprnn"
    hidden: int = 128
    field: str = "real"
    nonlinearity: str = "modrelu"
    init: str = "henaff"
    iterations: int = 1000
    batch_size: int = 128
    optimizer: str = "rmsprop"
    lr: float = 1e-3
    orth_lr: float = 1e-4
    lr_decay: float = 1.0
    lr_decay_every: int = 0
    clip: float | None = None
    seed: int = 0
    eval_every: int = 100
    checkpoint_every: int = 100
    dtype: str = "float64"
    rebase_every: int = 100
    rho: int | None = None
    d_max: float = 0.1
    retraction: str = "qr"
    rank: int = 1
    approximation: str = "lsi"
    lr_divider: float = 1.0
    rule: str = "gauss-southwell"
    block: int = 8

    def validate(self):
        """Raise ValueError naming the bad field and the allowed values."""
        choices = {"task": TASKS, "method": METHODS, "init": INITIALIZATIONS,
                   "optimizer": OPTIMIZERS, "nonlinearity": cell.NONLINEARITIES,
                   "field": ("real", "complex"), "dtype": ("float64", "float32")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"unknown {name} {getattr(self, name)!r}; use one of "
                                 f"{', '.join(allowed)}")
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            kinds = str(field.type).split(" | ")
            if not (value is None and "None" in kinds
                    or any(_has_kind(value, kind) for kind in kinds)):
                raise ValueError(f"{field.name} must be of type {field.type}, got "
                                 f"{type(value).__name__} {value!r}")
        for name in ("hidden", "iterations", "batch_size"):
            value = getattr(self, name)
            if value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("eval_every", "checkpoint_every", "lr_decay_every", "seed"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be an integer >= 0 (0: never), got "
                                 f"{getattr(self, name)!r}")
        for name in ("lr", "orth_lr", "lr_decay"):
            if not 0 < getattr(self, name) < math.inf:
                raise ValueError(f"{name} must be positive and finite, got "
                                 f"{getattr(self, name)!r}")
        if self.clip is not None and not self.clip > 0:
            raise ValueError(f"clip must be positive or None, got {self.clip!r}")
        if self.field == "complex" and self.nonlinearity != "modrelu":
            raise ValueError("field='complex' needs nonlinearity='modrelu'")
        return self


def _has_kind(value, kind):
    """Whether ``value`` is of the annotated type ``kind`` ("int", "float", "str", "bool")."""
    if kind == "bool":
        return isinstance(value, bool)
    if isinstance(value, bool):  # a bool is an int to Python, never a size or a rate here
        return False
    if kind == "int":
        return isinstance(value, (int, np.integer))
    if kind == "float":
        return isinstance(value, (int, float, np.integer, np.floating))
    return kind == "str" and isinstance(value, str)


def _loss_fn(task):
    return cross_entropy if task.loss == "cross_entropy" else mean_squared_error


class Trainer:
    """Train one RNN on one task; see the module docstring.

    Parameters
    ----------
    config : TrainConfig
    out : str or None
        Output directory (config, logs, checkpoint, figure). None: nothing is written.
    task : Task, optional
        A ready task (default: built from the config).
    like : array, optional
        Run in this array's namespace/device (e.g. a CuPy array); default NumPy.
    progress : bool
        Show a tqdm progress bar.
    callback : callable, optional
        ``callback(iteration, record)`` after every iteration; raising
        KeyboardInterrupt there behaves like Ctrl-C.
    """

    def __init__(self, config, out=None, task=None, like=None, progress=True, callback=None):
        self.config = config.validate()
        self.out = out
        self.task = task if task is not None else make_task(
            config.task, length=config.length, permuted=config.permuted, data_dir=config.data_dir)
        if not isinstance(self.task, Task):
            raise ValueError(f"task must be an orthopt.rnn.tasks.Task, got {type(self.task)}")
        self.like = like
        self.progress = progress
        self.callback = callback
        self.dtype = np.dtype(config.dtype)
        self.rng = np.random.default_rng(config.seed)
        self.params = cell.init_params(self.task.input_size, config.hidden, self.task.output_size,
                                       field=config.field, nonlinearity=config.nonlinearity,
                                       rng=self.rng, dtype=self.dtype, like=like)
        self.method = make_method(
            config.method, config.hidden, field=config.field, init=config.init, rng=self.rng,
            dtype=self.dtype, like=like, optimizer=config.optimizer, lr=config.orth_lr,
            **self._method_options())
        self.optimizer = make_optimizer(config.optimizer, config.lr)
        self.iteration = 0
        self.history = []
        self.notes = []  # what the run directory needed (a dropped partial log line, ...)
        self._begin_commit = None

    def _method_options(self):
        c = self.config
        opts = {"dtriv": {"rebase_every": c.rebase_every},
                "scornn": {"rho": c.rho},
                "vfield": {"d_max": c.d_max},
                "rgd": {"retraction": c.retraction},
                "projunn-d": {"rank": c.rank, "approximation": c.approximation,
                              "lr_divider": c.lr_divider},
                "givens": {"rule": c.rule, "block": c.block}}
        opts["projunn-t"] = opts["projunn-d"]
        return {k: v for k, v in opts.get(c.method, {}).items() if v is not None}

    # -- paths ------------------------------------------------------------

    def _path(self, name):
        return None if self.out is None else os.path.join(self.out, name)

    # -- state ------------------------------------------------------------

    def state(self):
        """(arrays, meta) describing the run exactly, for :func:`save_checkpoint`."""
        arrays = {"param/" + k: v for k, v in self.params.items()}
        arrays.update({"opt/" + k: v for k, v in self.optimizer.state_dict().items()})
        arrays.update({"method/" + k: v for k, v in self.method.state_dict().items()})
        meta = {"iteration": self.iteration, "rng": self.rng.bit_generator.state,
                "config": dataclasses.asdict(self.config), "format": 1}
        return arrays, meta

    def _check_settings(self, saved):
        """ValueError if the checkpoint's config differs where the trajectory depends on it."""
        mine = dataclasses.asdict(self.config)
        for key in ("task", "method", "hidden", "field", "nonlinearity", "optimizer", "dtype",
                    "length", "permuted", "seed", "batch_size"):
            if saved.get(key) != mine.get(key):
                raise ValueError(f"checkpoint was written with {key}={saved.get(key)!r} but this "
                                 f"run has {key}={mine.get(key)!r}; use the same settings to resume")

    def load_state(self, arrays, meta):
        """Restore what :meth:`state` returned (arrays may be host NumPy arrays)."""
        self._check_settings(dict(meta["config"]))

        def move(a):
            if a.ndim == 0 and a.dtype.kind in "iu":
                return int(a)
            return self._to_device(a, real=False)

        params = {k[6:]: move(v) for k, v in arrays.items() if k.startswith("param/")}
        expected = {k: v.shape for k, v in self.params.items()}
        got = {k: tuple(v.shape) for k, v in params.items()}
        if got != {k: tuple(v) for k, v in expected.items()}:
            raise ValueError(f"its weights are {got}, expected {expected}")
        self.params = params
        self.optimizer.load_state_dict({k[4:]: move(v) for k, v in arrays.items()
                                        if k.startswith("opt/")})
        self.method.load_state_dict({k[7:]: move(v) for k, v in arrays.items()
                                     if k.startswith("method/")})
        self.rng.bit_generator.state = meta["rng"]
        self.iteration = int(meta["iteration"])

    def save(self):
        if self.out is not None:
            arrays, meta = self.state()
            save_checkpoint(self._path("checkpoint.npz"), arrays, meta)

    # -- one step ---------------------------------------------------------

    def _lr(self, base):
        c = self.config
        if c.lr_decay_every and c.lr_decay != 1.0:
            return base * c.lr_decay ** (self.iteration // c.lr_decay_every)
        return base

    def _to_device(self, a, real=True):
        """Host array → the run's namespace and device (real data in the run's dtype)."""
        a = np.asarray(a, dtype=self.dtype) if real else np.asarray(a)
        if self.like is None:
            return a
        xp = get_namespace(self.like)
        return xp.asarray(a, device=device_of(self.like))

    def _accuracy(self, out, y):
        if self.task.loss != "cross_entropy":
            return None
        mask = self.task.accuracy_mask()
        if mask is not None:
            out, y = out[mask, ...], y[mask, ...]
        return to_float(accuracy(out, y))

    def evaluate(self, chunk=256):
        """(loss, accuracy) of the current weights on the task's held-out data."""
        x, y = self.task.eval_data()
        loss_fn = _loss_fn(self.task)
        total_loss, total_acc, count = 0.0, 0.0, 0
        params = dict(self.params, W=self.method.weight)
        for start in range(0, x.shape[1], chunk):
            xb = self._to_device(np.asarray(x[:, start:start + chunk], dtype=self.dtype))
            yb = y[..., start:start + chunk] if y.ndim == 1 else y[:, start:start + chunk]
            yb = self._to_device(yb, real=False)
            out, _ = cell.forward(params, xb, self.config.nonlinearity, self.task.output)
            m = xb.shape[1]
            total_loss += to_float(loss_fn(out, yb)[0]) * m
            acc = self._accuracy(out, yb)
            total_acc += (acc or 0.0) * m
            count += m
        acc = total_acc / count if self.task.loss == "cross_entropy" else None
        return total_loss / count, acc

    def step(self):
        """One training iteration; returns the log record (the weights are updated only if the
        loss is finite)."""
        c = self.config
        t0 = time.perf_counter()
        x, y = self.task.train_batch(self.rng, c.batch_size)
        x = self._to_device(np.asarray(x, dtype=self.dtype))
        y = self._to_device(y, real=False)
        params = dict(self.params, W=self.method.weight)
        with np.errstate(over="ignore", invalid="ignore"):
            out, cache = cell.forward(params, x, c.nonlinearity, self.task.output)
            loss, grad_out = _loss_fn(self.task)(out, y)
            loss_value = to_float(loss)
            record = {"iteration": self.iteration + 1, "loss": loss_value}
            if not math.isfinite(loss_value):
                return record
            grads = cell.backward(params, cache, grad_out)
        xp = get_namespace(x)
        # sum the squared norms on the device and bring back one number: one host sync per
        # step instead of one per parameter (each to_float waits for the GPU)
        norm = math.sqrt(to_float(sum(xp.sum(xp.abs(g) ** 2) for g in grads.values())))
        if c.clip is not None and norm > c.clip:
            grads = {k: g * (c.clip / norm) for k, g in grads.items()}
        lr, orth_lr = self._lr(c.lr), self._lr(c.orth_lr)
        grad_w = grads.pop("W")
        if self._begin_commit is not None:
            self._begin_commit()  # the update and its log row are applied whole
        self.params.update(self.optimizer.step(self.params, grads, lr))
        self.method.update(grad_w, orth_lr, self.rng)
        self.iteration += 1
        record.update(accuracy=self._accuracy(out, y), grad_norm=norm, lr=lr, orth_lr=orth_lr,
                      orthogonality=orthogonality_error(self.method.weight),
                      seconds=time.perf_counter() - t0)
        return record

    # -- logging ----------------------------------------------------------

    def _open_logs(self, resume):
        """Write config.json and both logs up to the current iteration (atomically); open the
        logs for appending."""
        if self.out is None:
            return None
        atomic_write_text(self._path("config.json"),
                          json.dumps(dataclasses.asdict(self.config), indent=2) + "\n")
        rows = []
        if resume:
            rows, note = read_log(self._path("log.jsonl"))
            if note:
                self.notes.append(note)
            rows = [r for r in rows if r["iteration"] <= self.iteration]
        self.history = rows
        # both logs end exactly at the checkpoint's iteration; each is replaced whole, so a
        # kill in this window leaves the old log (read again by the next resume), not a cut one
        atomic_write_text(self._path("log.jsonl"), "".join(json.dumps(r) + "\n" for r in rows))
        table = io.StringIO(newline="")
        writer = csv.DictWriter(table, fieldnames=LOG_FIELDS)
        writer.writeheader()
        for r in rows:
            writer.writerow({k: r.get(k) for k in LOG_FIELDS})
        atomic_write_text(self._path("log.csv"), table.getvalue())
        return (open(self._path("log.csv"), "a", newline=""), open(self._path("log.jsonl"), "a"))

    def _write(self, files, record):
        self.history.append(record)
        if files is None:
            return
        # log.jsonl first: it is the log a resume reads back (log.csv is rebuilt from it)
        files[1].write(json.dumps(record) + "\n")
        files[1].flush()
        csv.DictWriter(files[0], fieldnames=LOG_FIELDS).writerow(
            {k: record.get(k) for k in LOG_FIELDS})
        files[0].flush()

    # -- the loop ---------------------------------------------------------

    def run(self, resume=False, overwrite=False):
        """Train until ``config.iterations``; returns a result dict.

        Parameters
        ----------
        resume : bool
            Continue from ``out/checkpoint.npz`` (from iteration 0 if the run stopped before
            its first checkpoint but left its ``config.json``).
        overwrite : bool
            Start over in an ``out`` that already holds a run (its checkpoint and logs are
            deleted). Without it, and without ``resume``, such a directory is refused.

        Returns
        -------
        dict
            ``status`` ("finished", "interrupted", "aborted", "nonfinite"), ``message``, ``iteration``,
            ``loss`` (last training loss), ``eval_loss``, ``eval_accuracy``, ``baseline``,
            ``history`` (list of per-iteration records), ``notes`` (what the run directory
            needed, e.g. a dropped partial log line), ``seconds``.

        Raises
        ------
        orthopt.rnn.rundir.RunRefusedError
            ``out`` is in use by another run, holds a run (without ``resume``/``overwrite``),
            or its checkpoint is past ``config.iterations``.
        orthopt.rnn.rundir.DamagedFileError
            The checkpoint or the log cannot be read back; the message names the file.
        """
        if self.out is None:
            if resume:
                raise ValueError("resume=True needs an output directory holding checkpoint.npz")
            return self._run(resume)
        if resume and not os.path.isdir(self.out):
            raise FileNotFoundError(f"no run directory {self.out!r} to resume (no checkpoint, "
                                    "no config.json); run without --resume first")
        with lock_run_directory(self.out):
            remove_temporaries(self.out)
            if resume:
                self._load_for_resume()
            elif holds_a_run(self.out):
                if not overwrite:
                    raise RunRefusedError(
                        f"{self.out} already holds a run; continue it with --resume, or start "
                        "over with --overwrite (deletes its checkpoint and logs), or pick "
                        "another --out")
                for name in ("checkpoint.npz", "log.jsonl", "log.csv", "curves.png"):
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(self._path(name))
            return self._run(resume)

    def _load_for_resume(self):
        path = self._path("checkpoint.npz")
        if os.path.lexists(path) or not os.path.exists(self._path("config.json")):
            arrays, meta = load_checkpoint(path)
            check_training_checkpoint(path, arrays, meta)
            self._check_settings(meta["config"])
            try:
                self.load_state(arrays, meta)
            except (KeyError, ValueError, TypeError, IndexError) as err:
                raise DamagedFileError(path, f"its contents do not fit this run ({err})") from None
        else:
            self.notes.append("no checkpoint.npz yet (the run stopped before its first one): "
                              "starting from iteration 0, which is the same trajectory")
        if self.iteration > self.config.iterations:
            raise RunRefusedError(
                f"the checkpoint is at iteration {self.iteration}, past --iterations "
                f"{self.config.iterations}; pass --iterations {self.iteration} or more to "
                "continue (nothing was changed)")

    def _run(self, resume):
        c = self.config
        files = self._open_logs(resume)
        status, message = "finished", f"finished {c.iterations} iterations"
        start = time.perf_counter()
        bar, in_step = None, False
        if self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=c.iterations, initial=self.iteration, desc=f"{c.method} {c.task}",
                       dynamic_ncols=True)
        with SigintFlag() as sigint:
            self._begin_commit = sigint.begin_commit
            try:
                while self.iteration < c.iterations:
                    in_step = True  # until the commit: a second Ctrl-C aborts (interrupt.py)
                    record = self.step()
                    in_step = False
                    if not math.isfinite(record["loss"]):
                        status = "nonfinite"
                        message = (f"loss became {record['loss']} at iteration "
                                   f"{record['iteration']}; stopped before updating. The last "
                                   "checkpoint (if any) is kept: lower --lr/--orth-lr or set "
                                   "--clip, then --resume")
                        break
                    if c.eval_every and (self.iteration % c.eval_every == 0
                                         or self.iteration == c.iterations):
                        record["eval_loss"], record["eval_accuracy"] = self.evaluate()
                    self._write(files, record)
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix(loss=f"{record['loss']:.4g}")
                    if c.checkpoint_every and self.iteration % c.checkpoint_every == 0:
                        self.save()
                    sigint.end_commit()  # raises KeyboardInterrupt if Ctrl-C was pressed
                    if self.callback is not None:
                        self.callback(self.iteration, record)
                    if sigint.requested:
                        raise KeyboardInterrupt
            except KeyboardInterrupt:
                # Ctrl-C only sets a flag checked between iterations, so the state is that of
                # a completed iteration and resumes exactly
                status = "interrupted"
                message = (f"interrupted at iteration {self.iteration}; checkpoint written, "
                           "continue with --resume")
                if in_step:  # a second Ctrl-C inside an iteration: weights may be half-updated
                    status = "aborted"
                    message = ("aborted inside an iteration; the last periodic checkpoint is "
                               "kept, continue with --resume")
            finally:
                self._begin_commit = None
                sigint.committing = False
                if bar is not None:
                    bar.close()
                if files is not None:
                    files[0].close(), files[1].close()
            sigint.shielded = True
            if status in ("finished", "interrupted"):
                self.save()
        if status == "finished" and self.out is not None:
            try:
                self.plot()
            except KeyboardInterrupt:  # the run itself is complete and saved: say so, no trace
                self.notes.append("Ctrl-C while drawing curves.png: the figure is missing, the "
                                  "run is complete (draw it with Trainer.plot)")
        eval_loss, eval_acc = (None, None)
        evals = [r for r in self.history if r.get("eval_loss") is not None]
        if evals:
            eval_loss, eval_acc = evals[-1]["eval_loss"], evals[-1].get("eval_accuracy")
        return {"status": status, "message": message, "iteration": self.iteration,
                "loss": self.history[-1]["loss"] if self.history else None,
                "eval_loss": eval_loss, "eval_accuracy": eval_acc,
                "baseline": self.task.baseline, "history": self.history,
                "notes": list(self.notes), "seconds": time.perf_counter() - start}

    def plot(self, path=None):
        """Write ``curves.png``: loss against the baseline, and the spectrum of W."""
        from .plots import plot_training

        path = path or self._path("curves.png")
        plot_training(self.history, self.task.baseline, self.method.weight, path,
                      title=f"{self.config.method} on {self.task.name}")
        return path


def train(config=None, out=None, resume=False, overwrite=False, **kwargs):
    """Convenience: ``Trainer(TrainConfig(**kwargs), out).run(resume, overwrite)``."""
    progress = kwargs.pop("progress", True)
    if config is None:
        config = TrainConfig(**kwargs)
    return Trainer(config, out=out, progress=progress).run(resume=resume, overwrite=overwrite)
