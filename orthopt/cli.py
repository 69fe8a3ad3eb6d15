"""The ``orthopt`` command line: ``orthopt demo``, ``orthopt rnn ...``."""

from __future__ import annotations

import argparse
import os
import signal
import sys

__all__ = ["main"]


def _build_parser():
    parser = argparse.ArgumentParser(
        prog="orthopt",
        description="Optimization under orthogonality constraints (Stiefel, SO(n), U(n)).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    demo = sub.add_parser("demo", help="solve three problems with known optima and print a table")
    demo.add_argument("--seed", type=int, default=0, help="seed of the data and starts (default 0)")
    demo.add_argument("--plot", metavar="PATH", default=None,
                      help="save the convergence figure to PATH (PNG, PDF, SVG)")
    demo.add_argument("--verbose", action="store_true", help="show progress bars")
    try:
        from .rnn.cli import add_rnn_subparser
    except ImportError:  # the RNN package is optional at this layer
        add_rnn_subparser = None
    if add_rnn_subparser is not None:
        add_rnn_subparser(sub)
    return parser


def main(argv=None):
    """Entry point of the ``orthopt`` console script."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import run_demo

        if args.plot is not None:
            # before the solves, not after them: a bad path should cost nothing
            folder = os.path.dirname(os.path.abspath(args.plot))
            if not os.path.isdir(folder):
                parser.error(f"cannot save the figure to {args.plot!r}: the folder {folder!r} "
                             "does not exist (create it, or pick another --plot path)")

        rows = run_demo(seed=args.seed, plot=args.plot, verbose=args.verbose)
        worst = max(r["relative_error"] for r in rows)
        return 0 if worst <= 1e-8 else 1
    if args.command == "rnn":
        from .rnn.cli import run_rnn

        code = None
        try:
            code = run_rnn(args)
            # The run is over and its report printed: a Ctrl-C from now on ends the
            # process at once, by the signal, instead of a KeyboardInterrupt raised
            # inside the interpreter's shutdown ("Exception ignored in threading")
            signal.signal(signal.SIGINT, signal.SIG_DFL)
        except KeyboardInterrupt:
            if code is None:  # not one run_rnn let through after its report: re-raise
                raise
            # a second press landed between the report and SIG_DFL (seen 1 run in ~30
            # of tests/test_faults.py's double Ctrl-C): the run had ended and saved
        return code
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
