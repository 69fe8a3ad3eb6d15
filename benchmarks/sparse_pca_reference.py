"""Reference numbers of the sparse-PCA solvers on pitprops (6 components), for before/after
comparisons of a solver change: ManPG at tol 1e-9 (total and adjusted variance), the refit of
each solution at tol 1e-10, the smoothed and Givens solvers, and SparsePCA's defaults. Prints
one line per run (timings are wall time on a shared machine: indicative only). Run::

    python benchmarks/sparse_pca_reference.py
"""
import numpy as np, time, warnings
from orthopt.decomposition import manpg, givens_spca, smoothed_spca, load_pitprops, SparsePCA, adjusted_variance
from orthopt.decomposition.refit import refit_on_support
A = load_pitprops()[0]
def nnz(x): return int(np.sum(np.abs(x) > 1e-5))
for alpha, var in [(0.5,"total"),(0.5,"adjusted"),(1.0,"total"),(0.1,"total"),(2.0,"adjusted")]:
    t=time.perf_counter(); r = manpg(A, 6, alpha, tol=1e-9, variance=var); t=time.perf_counter()-t
    print(f"manpg a={alpha} {var}: nit={r.nit} fun={r.fun:.12f} stat={r.stationarity:.2e} nnz={nnz(r.x)} ok={r.success} {t:.2f}s")
    rf = refit_on_support(A, r.x, variance=var, tol=1e-10)
    print(f"  refit nit={rf.nit} v={-rf.fun:.12f} stat={rf.stationarity:.2e} ok={rf.success}")
r = smoothed_spca(A, 6, 0.5, tol=1e-7); print(f"smoothed: nit={r.nit} fun={r.fun:.12f} stat={r.stationarity:.2e}")
r = givens_spca(A, 6, 1.0, tol=1e-6); print(f"givens: nit={r.nit} fun={r.fun:.12f}")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    for alpha in [0.1, 0.5, 2.0]:
        s = SparsePCA(6, alpha=alpha).fit(A, covariance=True)
        print(f"SparsePCA a={alpha}: nnz={nnz(s.components_)} evr={100*s.explained_variance_ratio_.sum():.6f} n_iter={s.n_iter_} refit={s.n_refit_iter_} conv={s.converged_} obj={s.objective_:.12f}")
