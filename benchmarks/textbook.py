"""The textbook problems of orthogonality-constrained optimization, for the benchmarks.

The definitions live in ``tests/textbook_problems.py`` (one source of truth:
the tests import them without ``benchmarks/`` on the path); this module puts
them on the path for the benchmark scripts and lists them::

    python benchmarks/textbook.py            # the small sizes (the default test run)
    python benchmarks/textbook.py --large    # the sizes of the slow tests and benchmarks

Use from a benchmark script::

    from textbook import PROBLEMS, make      # benchmarks/ is the script's folder
    instance = make("brockett_so", seed=0, size="small")
"""

from __future__ import annotations

import argparse
import os
import sys

_TESTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests")
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from textbook_problems import (PROBLEMS, SIZES, Instance, make, random_rotation,  # noqa: E402
                               random_stiefel)

__all__ = ["PROBLEMS", "SIZES", "Instance", "make", "random_rotation", "random_stiefel"]

MANIFOLD_NAMES = {"stiefel": "St", "stiefel-complex": "ℂSt", "so": "SO", "unitary": "U"}


def manifold_label(instance):
    """"St(40, 4)", "SO(12)", "U(8)", "ℂSt(30, 3)"."""
    name = MANIFOLD_NAMES[instance.manifold]
    if instance.manifold in ("so", "unitary"):
        return f"{name}({instance.n})"
    return f"{name}({instance.n}, {instance.p})"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="the large sizes")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    size = "large" if args.large else "small"
    print("| problem | manifold | f* | f(x0) | hand gradient | hand Hessian |")
    print("|---|---|---:|---:|---|---|")
    for name in PROBLEMS:
        instance = make(name, seed=args.seed, size=size)
        print(f"| {name} | {manifold_label(instance)} | {instance.optimum:.10g} | "
              f"{float(instance.cost(instance.x0)):.6g} | "
              f"{'yes' if instance.gradient else 'no'} | {'yes' if instance.hessian else 'no'} |")


if __name__ == "__main__":
    main()
