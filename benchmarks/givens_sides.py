"""Givens coordinate descent: left, right and both actions on Brockett over SO(n), A dense.

Problem (issue 13): min tr(xᵀ A x N) over SO(n), A a dense random symmetric
matrix ((G + Gᵀ)/2, G standard normal, seeded), N = diag(n, …, 1), x₀
Haar-random (seeded); the optimum Σ λ_i(A) N_{n+1−i} comes from ``eigvalsh``.
Each rule ("random", "gauss-southwell", block 1, exact angles) runs on each
side ("left": rows x ← Gx; "right": columns x ← xG, Jacobi's coordinates;
"both": the rule chooses among the coordinates of both sides) from the same
start, and stops when the relative cost gap (f − f*)/|f*| falls below
``--tol`` (checked by the callback after every iteration) or after
``--max-rotations``. Counted: rotations (= iterations: one coordinate each)
and wall time, BLAS pinned to one thread. Usage::

    python benchmarks/givens_sides.py [--n 20] [--tol 1e-8] [--seeds 0 1]

Writes benchmarks/results/givens_sides.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from orthopt.manifolds import SpecialOrthogonal
from orthopt.optim import Problem


def brockett(n, seed):
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((n, n))
    a = (g + g.T) / 2
    weights = np.arange(n, 0, -1.0)
    optimum = float(np.sum(np.linalg.eigvalsh(a) * weights))

    def cost_and_gradient(x):
        ax = a @ x
        return float(np.sum(x * ax * weights)), 2 * ax * weights

    manifold = SpecialOrthogonal(n)
    problem = Problem(manifold, None, cost_and_gradient=cost_and_gradient)
    return problem, optimum, manifold.random_point(rng=seed + 1000)


def main(argv=None):
    import givens_rules  # the counting solver and the run loop

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--tol", type=float, default=1e-8)
    parser.add_argument("--max-rotations", type=int, default=40000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--out",
                        default=str(Path(__file__).parent / "results" / "givens_sides.json"))
    args = parser.parse_args(argv)
    rows = []
    with threadpool_limits(1):
        for seed in args.seeds:
            problem, optimum, x0 = brockett(args.n, seed)
            for rule in ("gauss-southwell", "random"):
                for side in ("left", "right", "both"):
                    t0 = time.perf_counter()
                    row = givens_rules.run_rule(problem, optimum, x0, rule, 1, args.tol,
                                                args.max_rotations, seed, side=side)
                    row["seed"] = seed
                    rows.append(row)
                    print(f"seed {seed} {rule:16s} {side:5s}: {row['rotations']:6d} rotations, "
                          f"gap {row['final_gap']:.1e}, {time.perf_counter() - t0:6.1f} s"
                          + ("" if row["converged"] else "  (cap)"), flush=True)
    result = {"benchmark": "givens_sides", "machine": platform.platform(), "n": args.n,
              "tol": args.tol, "max_rotations": args.max_rotations, "seeds": args.seeds,
              "runs": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"\nwrote {args.out}")
    return result


if __name__ == "__main__":
    main()
