"""The ``orthopt rnn`` command: train an orthogonal RNN on a long-memory task.

Examples::

    orthopt rnn copying --method exprnn --hidden 128 --iterations 3000 --batch-size 128 \\
        --lr 1e-3 --orth-lr 1e-4 --seed 0 --out runs/copy-exprnn
    orthopt rnn copying --out runs/copy-exprnn --resume --iterations 4000   # continue
    orthopt rnn digits --method dtriv --permuted --out runs/pdigits
    orthopt rnn mnist --data-dir ~/data/mnist --permuted --out runs/pmnist

DIR receives ``config.json``, ``log.csv``, ``log.jsonl``, ``checkpoint.npz`` and
``curves.png``. With ``--resume`` the settings are read back from DIR's
``config.json``; options given on the command line override them (to extend a
run, raise ``--iterations``). Ctrl-C writes a checkpoint and stops; a second
Ctrl-C aborts at once (the last periodic checkpoint is kept).

A DIR that already holds a run is refused unless ``--resume`` (continue it)
or ``--overwrite`` (start over) is given. One run at a time holds DIR (an
exclusive lock on DIR/.lock); a second run on the same DIR is refused with
the first one's pid, host and start time. A run killed by any means leaves no
lock behind (the system releases it) and no half-written file: files are
replaced whole, and ``--resume`` continues from the last checkpoint.

Exit codes: 0 finished, interrupted or aborted by Ctrl-C (continue with
--resume); 1 stopped on a non-finite loss; 2 bad arguments or missing data;
3 refused: DIR holds a run (give --resume or --overwrite), is in use by
another run, or its checkpoint is past --iterations; 4 a damaged file in DIR
(the message names it and what is wrong); 130 Ctrl-C outside the training
loop (while starting, or after the run stopped; continue with --resume).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys

__all__ = ["add_rnn_subparser", "run_rnn", "config_from_args", "EXIT_CODES"]

#: The exit codes of ``orthopt rnn`` (also in the command's help).
EXIT_CODES = {"ok": 0, "nonfinite": 1, "usage": 2, "refused": 3, "damaged": 4,
              "interrupted": 130}

#: BLAS threads of ``orthopt rnn`` by default: one was faster than two at every size the
#: CLI runs, alone and next to a busy process (benchmarks/results/blas_threads.json)
DEFAULT_BLAS_THREADS = 1

# option name -> (type, help); defaults come from TrainConfig
_OPTIONS = {
    "method": (str, "training method of W (default exprnn)"),
    "hidden": (int, "hidden size n (default 128)"),
    "iterations": (int, "total training iterations (default 1000)"),
    "batch_size": (int, "minibatch size (default 128)"),
    "lr": (float, "learning rate of V, b, modReLU bias and the output layer (default 1e-3)"),
    "orth_lr": (float, "learning rate of the orthogonal parameter; method none: of the free W "
                        "(default 1e-4)"),
    "seed": (int, "random seed: weights, batches and method randomness (default 0)"),
    "length": (int, "copying: delay L (default 200); adding: sequence length (default 200)"),
    "data_dir": (str, "mnist: directory with mnist.npz or the four IDX files"),
    "field": (str, "real (orthogonal W) or complex (unitary W)"),
    "nonlinearity": (str, "modrelu (default), tanh or relu"),
    "init": (str, "henaff (default), cayley, orthogonal or identity"),
    "optimizer": (str, "rmsprop (default) or adam, for both parameter groups"),
    "lr_decay": (float, "multiply both learning rates by this factor ..."),
    "lr_decay_every": (int, "... every so many iterations (default 0: constant)"),
    "clip": (float, "clip the global gradient norm to this value (default: no clipping)"),
    "eval_every": (int, "evaluate on held-out data every so many iterations (default 100)"),
    "checkpoint_every": (int, "write checkpoint.npz every so many iterations (default 100)"),
    "dtype": (str, "float64 (default) or float32"),
    "rebase_every": (int, "dtriv: K, move the base every K steps (default 100)"),
    "rho": (int, "scornn: number of −1 entries of D (default n/2)"),
    "d_max": (float, "vfield: bound of the learned diagonal (default 0.1)"),
    "retraction": (str, "rgd: qr (default), cayley or exp"),
    "rank": (int, "projunn: rank k of the gradient approximation (default 1)"),
    "approximation": (str, "projunn: lsi (default), column or exact"),
    "lr_divider": (float, "projunn: divide the orthogonal learning rate by this (default 1)"),
    "rule": (str, "givens: random, gauss-southwell (default) or block"),
    "block": (int, "givens block rule: rotations per step (default 8)"),
}


def add_rnn_subparser(subparsers):
    """Register ``rnn`` on an ``argparse`` sub-parser collection; returns the parser."""
    from .methods import METHODS
    from .tasks import TASKS

    parser = subparsers.add_parser(
        "rnn", help="train an orthogonal RNN (copying, adding, digits, mnist)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=TASKS, help="the task")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output directory (config, logs, checkpoint, figure)")
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument("--resume", action="store_true",
                          help="continue from DIR/checkpoint.npz with DIR/config.json's settings")
    existing.add_argument("--overwrite", action="store_true",
                          help="start over in a DIR that already holds a run (deletes its "
                               "checkpoint and logs); without it such a DIR is refused")
    parser.add_argument("--blas-threads", type=int, default=DEFAULT_BLAS_THREADS, metavar="N",
                        help=f"threads of every BLAS library (default {DEFAULT_BLAS_THREADS}, "
                             "the fastest measured at these sizes; 0: leave as configured)")
    parser.add_argument("--permuted", action="store_true", default=None,
                        help="digits/mnist: permuted pixel order")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu",
                        help="gpu runs on CuPy (needs cupy and an NVIDIA GPU)")
    choices = {"method": METHODS, "field": ("real", "complex"),
               "nonlinearity": ("modrelu", "tanh", "relu"),
               "init": ("henaff", "cayley", "orthogonal", "identity"),
               "optimizer": ("rmsprop", "adam"), "dtype": ("float64", "float32"),
               "retraction": ("qr", "cayley", "exp"),
               "approximation": ("lsi", "column", "exact"),
               "rule": ("random", "gauss-southwell", "block")}
    for name, (kind, text) in _OPTIONS.items():
        parser.add_argument("--" + name.replace("_", "-"), dest=name, type=kind, default=None,
                            choices=choices.get(name), help=text)
    parser.set_defaults(func=run_rnn)
    return parser


def config_from_args(args):
    """TrainConfig: defaults, then DIR/config.json when resuming, then explicit options."""
    from .train import TrainConfig

    values = {}
    saved = os.path.join(args.out, "config.json")
    if args.resume and os.path.lexists(saved):
        values.update(_read_saved_config(saved))
    values["task"] = args.task if not values else values.get("task", args.task)
    if values["task"] != args.task:
        raise ValueError(f"{args.out} holds a {values['task']!r} run, not {args.task!r}")
    for name in list(_OPTIONS) + ["permuted"]:
        value = getattr(args, name, None)
        if value is not None:
            values[name] = value
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in values.items() if k in fields})


def _read_saved_config(path):
    """The settings in DIR/config.json; DamagedFileError unless they make a valid config."""
    from .rundir import DamagedFileError, read_json_object
    from .train import TrainConfig

    values = read_json_object(path, what="a JSON object of settings")
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    try:
        TrainConfig(**{k: v for k, v in values.items() if k in fields}).validate()
    except (TypeError, ValueError) as err:
        raise DamagedFileError(path, f"holds invalid settings: {err}") from None
    return values


def run_rnn(args):
    """Entry point of ``orthopt rnn``; returns the process exit code.

    0: finished, interrupted or aborted by Ctrl-C (continue with --resume);
    1: stopped on a non-finite loss; 2: bad arguments or missing data (the
    message says what to fix); 3: refused (DIR holds a run and neither
    --resume nor --overwrite was given, DIR is in use by another run, or the
    checkpoint is past --iterations); 4: a damaged file in DIR (named).
    """
    from .._threads import blas_threads
    from .rundir import DamagedFileError, RunRefusedError
    from .train import Trainer

    threads = getattr(args, "blas_threads", DEFAULT_BLAS_THREADS)
    try:
        if threads is not None and threads < 0:
            raise ValueError(f"--blas-threads must be >= 0 (0: leave as configured), "
                             f"got {threads}")
        config = config_from_args(args)
        like = None
        if args.device == "gpu":
            try:
                import cupy
            except ImportError:
                raise ValueError("--device gpu needs CuPy: pip install cupy-cuda12x") from None
            like = cupy.zeros(1)
        trainer = Trainer(config, out=args.out, like=like, progress=not args.no_progress)
        with blas_threads(threads or None):
            result = trainer.run(resume=args.resume, overwrite=getattr(args, "overwrite", False))
        _report(result, args.out)
    except KeyboardInterrupt:
        # Ctrl-C outside the training loop (its handler turns Ctrl-C into a clean stop): while
        # starting, or after the run stopped. Every file is whole either way (rundir.py)
        print("orthopt rnn: interrupted outside the training loop; the run directory is "
              "consistent, continue with --resume", file=sys.stderr)
        return EXIT_CODES["interrupted"]
    except DamagedFileError as err:
        print(f"orthopt rnn: error: damaged file {err}. Restore it from a copy, or start over "
              "with --overwrite", file=sys.stderr)
        return EXIT_CODES["damaged"]
    except RunRefusedError as err:
        print(f"orthopt rnn: refused: {err}", file=sys.stderr)
        return EXIT_CODES["refused"]
    except (ValueError, FileNotFoundError) as err:
        print(f"orthopt rnn: error: {err}", file=sys.stderr)
        return EXIT_CODES["usage"]
    return EXIT_CODES["nonfinite"] if result["status"] == "nonfinite" else EXIT_CODES["ok"]


def _report(result, out):
    """Print the result of a run: notes (stderr), status, losses, where the outputs are."""
    for note in result.get("notes", ()):
        print(f"orthopt rnn: note: {note}", file=sys.stderr)
    print(result["message"])
    if result["loss"] is not None:
        line = f"last training loss {result['loss']:.5g}"
        if result["baseline"]:
            line += f" = {result['loss'] / result['baseline']:.3g} × baseline {result['baseline']:.4g}"
        print(line)
    if result["eval_loss"] is not None:
        acc = result["eval_accuracy"]
        print(f"held-out loss {result['eval_loss']:.5g}"
              + (f", accuracy {100 * acc:.2f} %" if acc is not None else ""))
    print(f"outputs in {out}")


def main(argv=None):
    """Stand-alone ``python -m orthopt.rnn.cli rnn ...`` (the package CLI wires the same)."""
    parser = argparse.ArgumentParser(prog="orthopt")
    add_rnn_subparser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
