"""Givens coordinate descent vs Riemannian gradient steps on W: cost per update, sparsity of Ω.

Massart & Abrol (2022) argue that a Givens (coordinate) step on SO(n) costs
O(n) — a rotation touches two columns of W — against O(n³) for a retraction.
This script times, on one thread and for n = 128 … 1024:

* ``rgd retraction``: W ← qr(W − lr·WΩ) given Ω (O(n³));
* ``givens apply``: the same given Ω, rotating k disjoint column pairs
  (O(k·n)) after picking them (O(n²) to scan |Ω|);
* both full updates from the Euclidean gradient G, which also form Ω = skew(WᵀG),
  one n×n product (O(n³)) — so a full Givens step is *not* O(n) unless Ω is
  maintained cheaply.

It also measures how concentrated the Riemannian gradient Ω is for a real
BPTT gradient (copying, n = 128): the fraction of entries carrying 50 % / 90 %
of ‖Ω‖², and saves the histogram of |Ω_ij|.

Usage::

    .venv/bin/python benchmarks/rnn_givens.py [--sizes 128,256,512,1024] [--block 16]

Writes ``benchmarks/results/rnn_givens.json`` and ``rnn_givens.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np


def _time(f, repeats):
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="128,256,512,1024")
    parser.add_argument("--block", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "results",
                                                         "rnn_givens.json"))
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    from orthopt.linalg import qr_positive, skew
    from orthopt.rnn import cell
    from orthopt.rnn.losses import cross_entropy
    from orthopt.rnn.methods import make_method
    from orthopt.rnn.tasks import copying_batch

    rows = []
    with threadpool_limits(1):
        for n in map(int, args.sizes.split(",")):
            rng = np.random.default_rng(0)
            g = rng.standard_normal((n, n)) * 1e-3
            gs = make_method("givens", n, init="orthogonal", rng=0, lr=1e-3, rule="block",
                             block=args.block, precondition=False)
            rg = make_method("rgd", n, init="orthogonal", rng=0, lr=1e-3, retraction="qr")
            w = np.array(gs.weight)
            omega = skew(w.T @ g)
            t_retr = _time(lambda: qr_positive(w - 1e-3 * (w @ omega)), args.repeats)

            def givens_apply():
                from orthopt.linalg import apply_givens, givens_coefficients

                i, j = gs.pick(omega, rng)
                c, s = givens_coefficients(1e-3 * omega[i, j])
                apply_givens(w, i, j, c, s, axis=-1)

            t_apply = _time(givens_apply, args.repeats)
            t_omega = _time(lambda: skew(w.T @ g), args.repeats)
            t_full_g = _time(lambda: gs.update(g, 1e-3, rng), args.repeats)
            t_full_r = _time(lambda: rg.update(g, 1e-3, rng), args.repeats)
            rows.append({"n": n, "rgd_retraction": t_retr, "givens_apply": t_apply,
                         "omega_product": t_omega, "givens_full": t_full_g, "rgd_full": t_full_r})
        # sparsity of Ω for a real BPTT gradient
        n = 128
        rng = np.random.default_rng(0)
        params = cell.init_params(10, n, 9, rng=rng)
        m = make_method("exprnn", n, init="henaff", rng=rng)
        params["W"] = m.weight
        x, y = copying_batch(rng, 128, 200)
        out, cache = cell.forward(params, x)
        _, gy = cross_entropy(out, y)
        grad_w = cell.backward(params, cache, gy)["W"]
        omega = skew(params["W"].T @ grad_w)
    mags = np.sort(np.abs(omega[np.triu_indices(n, 1)]))[::-1]
    energy = np.cumsum(mags ** 2) / np.sum(mags ** 2)
    frac50 = (np.searchsorted(energy, 0.5) + 1) / mags.size
    frac90 = (np.searchsorted(energy, 0.9) + 1) / mags.size
    print(f"{'n':>6}{'rgd retr. s':>13}{'givens apply s':>16}{'Ω=skew(WᵀG) s':>15}"
          f"{'givens full s':>15}{'rgd full s':>12}")
    for r in rows:
        print(f"{r['n']:>6}{r['rgd_retraction']:>13.2e}{r['givens_apply']:>16.2e}"
              f"{r['omega_product']:>15.2e}{r['givens_full']:>15.2e}{r['rgd_full']:>12.2e}")
    print(f"Ω of a BPTT gradient (copying L=200, n=128, henaff init): {100 * frac50:.1f} % of "
          f"the entries carry 50 % of ‖Ω‖², {100 * frac90:.1f} % carry 90 %")
    from orthopt.rnn.plots import _pyplot

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(mags / mags[0], bins=60, color="C0")
    ax.set_yscale("log")
    ax.set_xlabel("|Ω_ij| / max |Ω_ij|")
    ax.set_ylabel("entries (i < j)")
    ax.set_title(f"Riemannian gradient of W (copying, n={n}): 90 % of ‖Ω‖² in "
                 f"{100 * frac90:.1f} % of entries", fontsize=9)
    fig.tight_layout()
    figure = os.path.splitext(args.output)[0] + ".png"
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    fig.savefig(figure, dpi=110)
    with open(args.output, "w") as f:
        json.dump({"rows": rows, "block": args.block, "omega_fraction_50": frac50,
                   "omega_fraction_90": frac90, "figure": figure}, f, indent=2)
    return rows


if __name__ == "__main__":
    main()
