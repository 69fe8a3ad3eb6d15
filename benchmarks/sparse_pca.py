"""Sparse PCA benchmark: orthopt vs scikit-learn on pitprops, and ManPG's demo problems.

Part 1 — pitprops, 6 components. Adjusted variance (Zou–Hastie–Tibshirani,
:func:`orthopt.decomposition.adjusted_variance`, in the estimator's component
order for both methods) against the number of nonzero loadings (|v| > 1e-5,
both methods), and ‖VᵀV − I‖_F. The same adaptive α grid rule is applied to
both libraries: a geometric base grid, then up to ``REFINE_ROUNDS`` rounds of
inserting the geometric midpoint between neighbouring α whose fits differ by
more than one nonzero (so that each curve is sampled at as many counts as
its α can reach, not only where a fixed grid happens to land).

* ``orthopt`` — ``SparsePCA(6, alpha=α)`` with its defaults (adjusted-variance
  ℓ1 problem, refit on the support) on the correlation matrix
  (``covariance=True``), refined α grid.
* ``orthopt_total`` — ``variance="total", refit=False``: ManPG's problem
  alone, the estimator's behaviour before the adjusted criterion and the
  refit existed (the "before" curve); ``orthopt_total_refit`` adds the refit
  only. Base grid only.
* ``orthopt_pruned`` — for each count k that scikit-learn reached,
  ``SparsePCA(6, alpha=α_k, max_nonzero=k)`` with α_k the α of the orthopt
  grid point with the fewest nonzeros ≥ k: the estimator asked for k
  nonzeros.
* ``sklearn`` — ``sklearn.decomposition.SparsePCA(6, alpha=α, random_state=0,
  max_iter=1000)``. It needs data, so it gets 180 samples whose sample
  correlation matrix *is* pitprops (to 1e-15; the construction of
  :func:`pitprops_samples`).

Also recorded, as a second opinion on "variance": the variance of the
projection of the data on the span of the loadings,
tr(A V(VᵀV)⁻¹Vᵀ)/tr(A) (Shen & Huang's CPEV), which does not penalize
correlated scores (for orthonormal V it is tr(VᵀAV)/tr(A)).

Part 2 — ManPG's SPCA demo (Chen et al. 2020): B = randn(50, n), centred,
unit-norm columns, A = BᵀB, r = 5, α = 0.8, a random orthonormal start shared
by all solvers; ManPG's problem (total variance) and stopping rule
‖V/t‖² ≤ 1e-8·n·r. For each solver: iterations, objective, sparsity, seconds.

BLAS is pinned to one thread (threadpoolctl). Run::

    .venv/bin/python benchmarks/sparse_pca.py            # full
    .venv/bin/python benchmarks/sparse_pca.py --quick    # n ∈ {100, 500}, coarser grids

Writes benchmarks/results/sparse_pca.json and benchmarks/results/sparse_pca.png.
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import platform
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from orthopt.decomposition import (
    SparsePCA,
    adjusted_variance,
    givens_spca,
    load_pitprops,
    manpg,
    orthogonality_error,
    smoothed_spca,
)

RESULTS = pathlib.Path(__file__).parent / "results"
REFINE_ROUNDS = 3


def pitprops_samples(corr, m=180, seed=0):
    """m samples whose sample correlation (and covariance) equals ``corr`` exactly."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((m, corr.shape[0]))
    z -= z.mean(axis=0)
    q, _ = np.linalg.qr(z)
    z = q * math.sqrt(m - 1)  # zᵀz/(m−1) = I, columns centred
    return z @ np.linalg.cholesky(corr).T


def loading_stats(corr, v):
    """nnz, adjusted variance % and projected variance % of loadings v (columns)."""
    nnz = int(np.sum(np.abs(v) > 1e-5))
    if nnz == 0 or np.any(np.linalg.norm(v, axis=0) == 0):
        return nnz, float("nan"), float("nan")
    adj = adjusted_variance(corr, v)
    projected = np.trace(corr @ v @ np.linalg.solve(v.T @ v, v.T))
    total = np.trace(corr)
    return nnz, float(100 * np.sum(adj) / total), float(100 * projected / total)


def fit_orthopt(corr, alpha, **options):
    start = time.perf_counter()
    spca = SparsePCA(6, alpha=alpha, tol=1e-7, **options).fit(corr, covariance=True)
    seconds = time.perf_counter() - start
    v = spca.components_.T
    nnz, var, projected = loading_stats(corr, v)
    return {
        "alpha": alpha, "nnz": nnz, "adjusted_variance_pct": var,
        "projected_variance_pct": projected, "orthogonality_error": orthogonality_error(v),
        "n_iter": spca.n_iter_, "n_refit_iter": spca.n_refit_iter_,
        "converged": spca.converged_, "seconds": seconds, **options,
    }


def fit_sklearn(corr, x, alpha):
    from sklearn.decomposition import SparsePCA as SklearnSparsePCA

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter of its inner lasso solver
        sk = SklearnSparsePCA(6, alpha=alpha, random_state=0, max_iter=1000).fit(x)
    seconds = time.perf_counter() - start
    v = sk.components_.T
    nnz, var, projected = loading_stats(corr, v)
    return {
        "alpha": alpha, "nnz": nnz, "adjusted_variance_pct": var,
        "projected_variance_pct": projected,
        "orthogonality_error": float(np.linalg.norm(v.T @ v - np.eye(6))),
        "n_iter": int(sk.n_iter_), "seconds": seconds,
    }


def refined_path(fit, alphas, rounds):
    """Fit on ``alphas``, then bisect (geometrically) α gaps whose counts differ by > 1."""
    rows = {a: fit(a) for a in alphas}
    for _ in range(rounds):
        ordered = sorted(rows)
        new = []
        for lo, hi in zip(ordered[:-1], ordered[1:]):
            if lo > 0 and abs(rows[lo]["nnz"] - rows[hi]["nnz"]) > 1 and hi / lo > 1.005:
                new.append(math.sqrt(lo * hi))
        if not new:
            break
        for a in new:
            rows[a] = fit(a)
    return [rows[a] for a in sorted(rows)]


def dominance(rows_sklearn, rows_orthopt, pruned=None):
    """For each scikit-learn point: orthopt's best variance with no more nonzeros."""
    out = []
    pruned = {row["max_nonzero"]: row for row in (pruned or [])}
    for row in sorted(rows_sklearn, key=lambda r: (r["nnz"], r["alpha"])):
        if not math.isfinite(row["adjusted_variance_pct"]):
            continue
        candidates = [r for r in rows_orthopt if r["nnz"] <= row["nnz"]]
        best = max(candidates, key=lambda r: r["adjusted_variance_pct"]) if candidates else None
        entry = {
            "sklearn_alpha": row["alpha"], "sklearn_nnz": row["nnz"],
            "sklearn_variance_pct": row["adjusted_variance_pct"],
            "sklearn_orthogonality_error": row["orthogonality_error"],
            "orthopt_alpha": best["alpha"] if best else None,
            "orthopt_nnz": best["nnz"] if best else None,
            "orthopt_variance_pct": best["adjusted_variance_pct"] if best else None,
            "orthopt_ahead": bool(best and best["adjusted_variance_pct"]
                                  > row["adjusted_variance_pct"]),
        }
        if row["nnz"] in pruned:
            p = pruned[row["nnz"]]
            entry.update({
                "pruned_alpha": p["alpha"], "pruned_nnz": p["nnz"],
                "pruned_variance_pct": p["adjusted_variance_pct"],
                "pruned_ahead": bool(p["nnz"] <= row["nnz"] and p["adjusted_variance_pct"]
                                     > row["adjusted_variance_pct"]),
            })
        out.append(entry)
    return out


def part_pitprops(quick):
    corr, _ = load_pitprops()
    base_orthopt = [0.0] + [float(a) for a in np.geomspace(0.01, 4.0, 25)]
    base_sklearn = [float(a) for a in np.geomspace(0.03, 10.0, 12)]
    rounds = REFINE_ROUNDS
    if quick:
        base_orthopt = [0.0] + [float(a) for a in np.geomspace(0.01, 4.0, 10)]
        base_sklearn = [float(a) for a in np.geomspace(0.3, 10.0, 5)]
        rounds = 1
    print("  orthopt (defaults), refined α grid", flush=True)
    rows_orthopt = refined_path(lambda a: fit_orthopt(corr, a), base_orthopt, rounds)
    print("  orthopt before: variance='total', refit=False / True", flush=True)
    rows_total = [fit_orthopt(corr, a, variance="total", refit=False) for a in base_orthopt]
    rows_total_refit = [fit_orthopt(corr, a, variance="total", refit=True) for a in base_orthopt]
    x = pitprops_samples(corr)
    assert np.max(np.abs(np.corrcoef(x, rowvar=False) - corr)) < 1e-12
    print("  scikit-learn, refined α grid", flush=True)
    rows_sklearn = refined_path(lambda a: fit_sklearn(corr, x, a), base_sklearn, rounds)
    print("  orthopt with max_nonzero = each scikit-learn count", flush=True)
    rows_pruned = []
    for k in sorted({r["nnz"] for r in rows_sklearn if r["nnz"] >= 6}):
        above = [r for r in rows_orthopt if r["nnz"] >= k]
        alpha = min(above, key=lambda r: (r["nnz"], -r["alpha"]))["alpha"] if above else 0.0
        rows_pruned.append(fit_orthopt(corr, alpha, max_nonzero=k))
    return {
        "orthopt": rows_orthopt,
        "orthopt_total": rows_total,
        "orthopt_total_refit": rows_total_refit,
        "orthopt_pruned": rows_pruned,
        "sklearn": rows_sklearn,
        "comparison": dominance(rows_sklearn, rows_orthopt, rows_pruned),
        "comparison_before": dominance(rows_sklearn, rows_total),
        "refine_rounds": rounds,
    }


def demo_problem(n, seed):
    rng = np.random.default_rng(seed)
    b = rng.standard_normal((50, n))
    b -= b.mean(axis=0)
    b /= np.linalg.norm(b, axis=0)
    x0, _ = np.linalg.qr(rng.standard_normal((n, 5)))
    return b.T @ b, x0


def part_demo(quick):
    sizes = [100, 500] if quick else [100, 500, 1000]
    r, alpha = 5, 0.8
    rows = []
    for n in sizes:
        a, x0 = demo_problem(n, seed=n)
        tol = math.sqrt(1e-8 * n * r)  # ManPG's rule ‖V/t‖² ≤ 1e-8·n·r
        solvers = {
            "manpg": lambda: manpg(a, r, alpha, init=x0, tol=tol, max_iter=20000),
            "manpg-ada": lambda: manpg(a, r, alpha, init=x0, tol=tol, max_iter=20000,
                                       adaptive=True),
            "smoothed": lambda: smoothed_spca(a, r, alpha, init=x0, tol=1e-6, max_iter=20000),
            "givens": lambda: givens_spca(a, r, alpha, init=x0, tol=1e-6,
                                          max_iter=200 if n <= 500 else 60),
        }
        for name, run in solvers.items():
            start = time.perf_counter()
            res = run()
            seconds = time.perf_counter() - start
            rows.append({
                "n": n, "solver": name, "iterations": int(res.nit), "objective": float(res.fun),
                "sparsity": float(np.mean(np.abs(res.x) <= 1e-5)),
                "orthogonality_error": orthogonality_error(res.x),
                "seconds": seconds, "success": bool(res.success), "message": res.message,
                "stationarity": float(res.stationarity),
            })
            print(f"  n={n:5d} {name:10s} it={res.nit:6d} F={res.fun:.8f} "
                  f"sparsity={rows[-1]['sparsity']:.3f} time={seconds:.2f}s  ({res.message[:60]})",
                  flush=True)
    return rows


def print_tables(pit, demo):
    print("\nPitprops, 6 components: adjusted variance (% of 13) vs nonzero loadings")
    print(f"{'method':20s} {'alpha':>7s} {'nnz':>4s} {'adj.var %':>9s} {'proj.var %':>10s} "
          f"{'||VtV-I||':>10s} {'time s':>7s}")
    for method in ("orthopt", "orthopt_pruned", "orthopt_total", "orthopt_total_refit",
                   "sklearn"):
        for row in sorted(pit[method], key=lambda r: (-r["nnz"], r["alpha"])):
            print(f"{method:20s} {row['alpha']:7.4f} {row['nnz']:4d} "
                  f"{row['adjusted_variance_pct']:9.2f} {row['projected_variance_pct']:10.2f} "
                  f"{row['orthogonality_error']:10.2e} {row['seconds']:7.2f}")
    for key, title in (("comparison_before", "before (variance='total', refit=False)"),
                       ("comparison", "now (defaults; and max_nonzero = scikit-learn's count)")):
        print(f"\nEach scikit-learn point against orthopt {title}:")
        print(f"{'sk alpha':>8s} {'sk nnz':>6s} {'sk var %':>8s} {'sk ||VtV-I||':>12s} "
              f"{'op nnz':>6s} {'op var %':>8s} {'ahead':>5s} {'pruned nnz':>10s} "
              f"{'pruned %':>8s} {'ahead':>5s}")
        for row in pit[key]:
            op_nnz = row["orthopt_nnz"] if row["orthopt_nnz"] is not None else "-"
            op_var = row["orthopt_variance_pct"]
            op_var = op_var if op_var is not None else float("nan")
            line = (f"{row['sklearn_alpha']:8.4f} {row['sklearn_nnz']:6d} "
                    f"{row['sklearn_variance_pct']:8.2f} "
                    f"{row['sklearn_orthogonality_error']:12.2e} {op_nnz:>6} {op_var:8.2f} "
                    f"{'yes' if row['orthopt_ahead'] else 'NO':>5s}")
            if "pruned_nnz" in row:
                line += (f" {row['pruned_nnz']:10d} {row['pruned_variance_pct']:8.2f} "
                         f"{'yes' if row['pruned_ahead'] else 'NO':>5s}")
            print(line)
        behind = [r for r in pit[key] if not r["orthopt_ahead"]]
        print(f"orthopt's α grid is behind at {len(behind)} of {len(pit[key])} "
              "scikit-learn points")
    print("\nManPG demo (r = 5, alpha = 0.8, random start):")
    print(f"{'n':>5s} {'solver':10s} {'iter':>6s} {'objective':>14s} {'sparsity':>8s} "
          f"{'time s':>7s} {'ok':>3s}")
    for row in demo:
        print(f"{row['n']:5d} {row['solver']:10s} {row['iterations']:6d} {row['objective']:14.8f} "
              f"{row['sparsity']:8.3f} {row['seconds']:7.2f} {'y' if row['success'] else 'n':>3s}")


def plot(pit, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax_orth) = plt.subplots(1, 2, figsize=(12, 5), width_ratios=[1.6, 1])
    curves = (
        ("orthopt_total", dict(ls=":", marker=".", color="tab:gray", ms=5),
         "orthopt before: total variance, no refit"),
        ("orthopt", dict(ls="-", marker="o", color="tab:blue", ms=4),
         "orthopt SparsePCA (defaults: adjusted variance + refit)"),
        ("orthopt_pruned", dict(ls="none", marker="D", color="tab:green", ms=5, mfc="none"),
         "orthopt SparsePCA(max_nonzero = sklearn's count)"),
        ("sklearn", dict(ls="--", marker="s", color="tab:red", ms=5),
         "scikit-learn SparsePCA (not orthogonal)"),
    )
    for method, style, label in curves:
        pts = sorted((r["nnz"], r["adjusted_variance_pct"]) for r in pit[method]
                     if math.isfinite(r["adjusted_variance_pct"]))
        ax.plot([p[0] for p in pts], [p[1] for p in pts], label=label, **style)
    ax.axhline(87.0, color="black", lw=0.8, ls="-.", label="PCA, 6 components (87.0 %)")
    ax.set_xlabel("number of nonzero loadings (of 78)", fontsize=11)
    ax.set_ylabel("adjusted variance (% of total)", fontsize=11)
    ax.set_title("Pitprops, 6 components: variance vs sparsity", fontsize=12)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)
    for method, style, label in curves:
        pts = sorted((r["nnz"], max(r["orthogonality_error"], 1e-17)) for r in pit[method])
        ax_orth.semilogy([p[0] for p in pts], [p[1] for p in pts], **style)
    ax_orth.set_xlabel("number of nonzero loadings (of 78)", fontsize=11)
    ax_orth.set_ylabel("‖VᵀV − I‖_F  (0 plotted at 1e-17)", fontsize=11)
    ax_orth.set_title("orthogonality of the loadings", fontsize=12)
    ax_orth.grid(True, alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smaller grids and sizes; writes sparse_pca_quick.{json,png}")
    parser.add_argument("--skip-demo", action="store_true",
                        help="only the pitprops part; the demo rows of the existing JSON are kept")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = "sparse_pca_quick" if args.quick else "sparse_pca"
    json_path, png_path = RESULTS / f"{stem}.json", RESULTS / f"{stem}.png"
    with threadpool_limits(1):
        print("pitprops ...", flush=True)
        pit = part_pitprops(args.quick)
        demo, demo_rerun = [], not args.skip_demo
        if args.skip_demo:
            if json_path.exists():
                demo = json.loads(json_path.read_text()).get("manpg_demo", [])
        else:
            print("ManPG demo ...", flush=True)
            demo = part_demo(args.quick)
    print_tables(pit, demo)
    out = {
        "benchmark": "sparse_pca",
        "quick": args.quick,
        "machine": platform.platform(),
        "python": platform.python_version(),
        "pitprops": pit,
        "manpg_demo": demo,
        "manpg_demo_rerun": demo_rerun,
    }
    json_path.write_text(json.dumps(out, indent=2))
    plot(pit, png_path)
    print(f"\nwrote {json_path} and {png_path}")


if __name__ == "__main__":
    main()
