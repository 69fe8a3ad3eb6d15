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
run, raise ``--iterations``). Ctrl-C writes a checkpoint and stops.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

__all__ = ["add_rnn_subparser", "run_rnn", "config_from_args"]

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
    parser.add_argument("--resume", action="store_true",
                        help="continue from DIR/checkpoint.npz with DIR/config.json's settings")
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
    if args.resume and os.path.exists(saved):
        with open(saved) as f:
            values.update(json.load(f))
    values["task"] = args.task if not values else values.get("task", args.task)
    if values["task"] != args.task:
        raise ValueError(f"{args.out} holds a {values['task']!r} run, not {args.task!r}")
    for name in list(_OPTIONS) + ["permuted"]:
        value = getattr(args, name, None)
        if value is not None:
            values[name] = value
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in values.items() if k in fields})


def run_rnn(args):
    """Entry point of ``orthopt rnn``; returns the process exit code.

    0: finished or interrupted (checkpoint written); 1: stopped on a non-finite
    loss; 2: bad arguments or missing data (the message says what to fix).
    """
    from .train import Trainer

    try:
        config = config_from_args(args)
        like = None
        if args.device == "gpu":
            try:
                import cupy
            except ImportError:
                raise ValueError("--device gpu needs CuPy: pip install cupy-cuda12x") from None
            like = cupy.zeros(1)
        trainer = Trainer(config, out=args.out, like=like, progress=not args.no_progress)
        result = trainer.run(resume=args.resume)
    except (ValueError, FileNotFoundError) as err:
        print(f"orthopt rnn: error: {err}", file=sys.stderr)
        return 2
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
    print(f"outputs in {args.out}")
    return 1 if result["status"] == "nonfinite" else 0


def main(argv=None):
    """Stand-alone ``python -m orthopt.rnn.cli rnn ...`` (the package CLI wires the same)."""
    parser = argparse.ArgumentParser(prog="orthopt")
    add_rnn_subparser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
