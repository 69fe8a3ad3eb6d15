"""Givens coordinate descent vs Riemannian gradient steps on W: cost per update, sparsity of Ω.

Massart & Abrol (2022) argue that a Givens (coordinate) step on SO(n) costs
O(n) — a rotation touches two columns of W — against O(n³) for a retraction.
This script times, on one thread and for n = 128 … 1024:

* ``rgd retraction``: W ← qr(W − lr·WΩ) given Ω (O(n³));
* ``GS pick``: choosing the k largest disjoint |Ω_ij| (a scan of Ω, O(n²));
* ``rot. in place``: rotating k disjoint row pairs in place (O(k·n));
* ``rot. vector``: the same through the namespace-generic vectorized kernel
  (copies W, O(n²));
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
    from orthopt.optim.coordinate import rotate, rotate_rows_inplace, select_gauss_southwell
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
            # the rotation kernels below act in place on this copy
            rg = make_method("rgd", n, init="orthogonal", rng=0, lr=1e-3, retraction="qr")
            w = np.array(gs.weight)  # a copy: the in-place kernel below rotates its rows
            omega = skew(w.T @ g)
            t_retr = _time(lambda: qr_positive(w - 1e-3 * (w @ omega)), args.repeats)
            i, j = select_gauss_southwell(omega, args.block)
            t_pick = _time(lambda: select_gauss_southwell(omega, args.block), args.repeats)
            angles = -1e-3 * omega[i, j]
            c, s = np.cos(angles), np.sin(angles)

            def givens_inplace():
                for k in range(len(i)):
                    rotate_rows_inplace(w, int(i[k]), int(j[k]), c[k], s[k])

            t_apply = _time(givens_inplace, args.repeats)
            t_vector = _time(lambda: rotate(w, i, j, angles), args.repeats)
            t_omega = _time(lambda: skew(w.T @ g), args.repeats)
            t_full_g = _time(lambda: gs.update(g, 1e-3, rng), args.repeats)
            t_full_r = _time(lambda: rg.update(g, 1e-3, rng), args.repeats)
            rows.append({"n": n, "rgd_retraction": t_retr, "givens_pick": t_pick,
                         "givens_apply_inplace": t_apply, "givens_apply_vectorized": t_vector,
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
        omega = skew(params["W"].T @ grad_w)          # right action W·G_ij (columns)
        omega_left = skew(grad_w @ params["W"].T)     # left action G_ij·W (rows), as the solver

    def concentration(om):
        m = np.sort(np.abs(om[np.triu_indices(n, 1)]))[::-1]
        energy = np.cumsum(m ** 2) / np.sum(m ** 2)
        return m, int(np.searchsorted(energy, 0.5)) + 1, int(np.searchsorted(energy, 0.9)) + 1

    mags, count50, count90 = concentration(omega)
    _, left50, left90 = concentration(omega_left)
    frac50, frac90 = count50 / mags.size, count90 / mags.size
    print(f"{'n':>6}{'rgd QR retr.':>13}{'GS pick':>10}{'rot. in place':>14}{'rot. vector':>12}"
          f"{'Ω=skew(WᵀG)':>12}{'givens full':>12}{'rgd full':>10}")
    for r in rows:
        print(f"{r['n']:>6}{r['rgd_retraction']:>13.2e}{r['givens_pick']:>10.2e}"
              f"{r['givens_apply_inplace']:>14.2e}{r['givens_apply_vectorized']:>12.2e}"
              f"{r['omega_product']:>12.2e}{r['givens_full']:>12.2e}{r['rgd_full']:>10.2e}")
    print(f"block = {args.block} rotations per Givens step; seconds, median of {args.repeats}")
    print(f"Ω of a BPTT gradient (copying L=200, n=128, henaff init, {mags.size} entries i<j):")
    print(f"  skew(WᵀG): {count50} entries ({100 * frac50:.2f} %) carry 50 % of ‖Ω‖², "
          f"{count90} ({100 * frac90:.2f} %) carry 90 %")
    print(f"  skew(GWᵀ): {left50} entries carry 50 %, {left90} carry 90 %")
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
        json.dump({"rows": rows, "block": args.block, "omega_count_50": count50,
                   "omega_left_count_50": left50, "omega_left_count_90": left90,
                   "omega_count_90": count90, "omega_fraction_50": frac50,
                   "omega_fraction_90": frac90, "figure": figure}, f, indent=2)
    return rows


if __name__ == "__main__":
    main()
