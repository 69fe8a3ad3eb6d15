"""Batched projUNN-D / projUNN-T: k independent problems in one run (optim.batch_projunn)."""

import autograd.numpy as anp
import numpy as np
import pytest

from orthopt.manifolds import SpecialOrthogonal, Stiefel, Unitary
from orthopt.optim import (Armijo, MaxIterations, NonmonotoneBB, Problem, ProjUNN, StrongWolfe,
                           minimize)
from orthopt.optim.batch_projunn import sample_columns

EPS = np.finfo(np.float64).eps


# -- problems with known optima -------------------------------------------------------------

def wahba_cost(x, b):
    """Procrustes / Wahba f_i(x_i) = −Re⟨B_i, x_i⟩, one value per problem."""
    return -anp.real(anp.sum(anp.conj(b) * x, axis=(-2, -1)))


def wahba_gradient(x, b):
    return -b


def wahba_batch(k, n, seed, field="real"):
    """k Procrustes problems and their optima: −Σσ(B_i) on U(n) and O(n); on SO(n) the
    smallest singular value counts negatively when det B_i < 0."""
    rng = np.random.default_rng(seed)
    b = rng.standard_normal((k, n, n))
    if field == "complex":
        b = b + 1j * rng.standard_normal((k, n, n))
    s = np.linalg.svd(b, compute_uv=False)
    signed = s.copy()
    if field == "real":
        signed[:, -1] *= np.sign(np.linalg.det(b))
    return b, -s.sum(axis=-1), -signed.sum(axis=-1)


def wahba_minimizers(b):
    """argmin over SO(n) of −⟨B_i, x⟩: U diag(1, …, 1, det UVᵀ) Vᵀ."""
    u, _, vh = np.linalg.svd(b)
    u[:, :, -1] *= np.sign(np.linalg.det(u @ vh))[:, None]
    return u @ vh


def brockett_cost(x, a, weights):
    """f_i(x_i) = tr(x_iᵀ A_i x_i N), N = diag(weights)."""
    return anp.sum(x * anp.matmul(a, x) * weights, axis=(-2, -1))


def brockett_gradient(x, a, weights):
    return 2.0 * np.matmul(a, x) * weights


def brockett_batch(k, n, seed):
    """k Brockett problems on SO(n) and their optima Σ_j λ_j(A_i) N_jj (eigenvalues ascending
    against weights descending)."""
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((k, n, n))
    a = g + np.swapaxes(g, -1, -2)
    weights = np.arange(n, 0, -1.0)
    return a, np.broadcast_to(weights, (k, 1, n)), np.linalg.eigvalsh(a) @ weights


def feasibility(x):
    """‖x_iᴴx_i − I‖_F per problem."""
    n = x.shape[-1]
    gram = np.conj(np.swapaxes(x, -1, -2)) @ x
    return np.linalg.norm(gram - np.eye(n), axis=(-2, -1))


# -- each problem as its single run -----------------------------------------------------------

MANIFOLDS = {
    "SO(5)": (SpecialOrthogonal(5), "real"),
    "U(4)": (Unitary(4), "complex"),
    "O(5)": (Stiefel(5, 5), "real"),  # starts with det −1: the other component of O(5)
}


def batch_start(name, k, seed):
    manifold, field = MANIFOLDS[name]
    x0 = manifold.random_point(rng=seed, shape=(k,))
    if name == "O(5)":
        x0[:, :, 0] *= -1
    b, _, _ = wahba_batch(k, manifold.n, seed + 1, field)
    return manifold, x0, b


@pytest.mark.parametrize("name", sorted(MANIFOLDS))
@pytest.mark.parametrize("method", ["projunn-d", "projunn-t"])
@pytest.mark.parametrize("options", [
    {"approximation": "exact", "rank": 2},
    # sketches of ∇f that point uphill and are used with the opposite sign; rank-1
    # Euclidean sketches stall (see ProjUNN's notes), and from the 9th iteration on its
    # searches are decided by the cost's rounding: 6 iterations
    {"approximation": "exact", "rank": 1, "direction": "euclidean", "max_iterations": 6},
    {"approximation": "exact", "rank": 2, "step_size": NonmonotoneBB()},
    # first trials growth × the last η, capped at max_step
    {"approximation": "exact", "rank": 2, "step_size": Armijo(guess="growth")},
    {"approximation": "exact", "rank": 2, "step_size": "fixed", "lr": 0.05},
    # rank + oversampling ≥ n: the random sketch spans the whole step, so it is exact
    {"approximation": "lsi", "rank": 2},
])
def test_each_problem_takes_the_steps_of_its_single_run(name, method, options):
    """Twelve iterations with a deterministic sketch: every iterate, cost history and step
    length of problem i equals its single run's to rounding."""
    k = 4
    manifold, x0, b = batch_start(name, k, seed=20)
    iterations = options.get("max_iterations", 12)
    options = {key: value for key, value in options.items() if key != "max_iterations"}
    options = dict(options, stopping=MaxIterations(iterations))
    res = minimize(wahba_cost, x0, method=method, manifold=manifold, batched=True, args=(b,),
                   jac=wahba_gradient, rng=0, options=options)
    assert res.x.shape == x0.shape and res.x.dtype == x0.dtype
    for field in ("fun", "grad_norm", "nit", "status", "success", "nfev"):
        assert res[field].shape == (k,), field
    for i in range(k):
        single = minimize(lambda x, m=b[i]: wahba_cost(x, m), x0[i], method=method,
                          manifold=manifold, jac=lambda x, m=b[i]: wahba_gradient(x, m), rng=0,
                          options=options)
        assert res.nit[i] == single.nit == iterations and res.status[i] == single.status
        # rounding only: the batch sums inner products in another order, and the SVD of
        # the sketch amplifies that by 1/(singular-value gap); seen up to 1.4e-12
        np.testing.assert_allclose(res.x[i], single.x, rtol=0, atol=1e5 * EPS)
        np.testing.assert_allclose(res.history["cost"][:, i], single.history["cost"],
                                   rtol=1e5 * EPS)
        np.testing.assert_allclose(res.history["step_size"][1:, i],
                                   single.history["step_size"][1:], rtol=1e-9)


@pytest.mark.parametrize("name", sorted(MANIFOLDS))
@pytest.mark.parametrize("method", ["projunn-d", "projunn-t"])
def test_each_problem_converges_as_its_single_run(name, method):
    """To ‖grad‖ ≤ 1e-6 with the exact rank-2 sketch: the same verdict, iteration count and
    cost. (Below about 1e-7 the decreases reach the cost's rounding, 100·eps·|f|, and which
    search fails first — precision_limit or one more step — is itself rounding.)"""
    k = 5
    manifold, x0, b = batch_start(name, k, seed=30)
    options = {"approximation": "exact", "rank": 2, "gradient_tolerance": 1e-6}
    res = minimize(wahba_cost, x0, method=method, manifold=manifold, batched=True, args=(b,),
                   jac=wahba_gradient, options=options)
    assert res.success.all(), res.status
    for i in range(k):
        single = minimize(lambda x, m=b[i]: wahba_cost(x, m), x0[i], method=method,
                          manifold=manifold, jac=lambda x, m=b[i]: wahba_gradient(x, m),
                          options=options)
        assert res.status[i] == single.status and abs(int(res.nit[i]) - single.nit) <= 2
        np.testing.assert_allclose(res.fun[i], single.fun, rtol=1e-12)
    assert feasibility(res.x).max() <= 100 * EPS * manifold.n
    # each run stays in its start's component of O(n)
    np.testing.assert_allclose(np.abs(np.linalg.det(res.x)), 1.0, atol=1e-12)
    if np.isrealobj(x0):
        assert np.array_equal(np.sign(np.linalg.det(res.x)), np.sign(np.linalg.det(x0)))


@pytest.mark.parametrize("method", ["projunn-d", "projunn-t"])
@pytest.mark.parametrize("approximation", ["lsi", "column"])
def test_random_rank_one_sketches_reach_the_single_runs_optima(method, approximation):
    """Rank-1 random sketches on SO(8): the batch draws other sketches than k single runs,
    so only the optima agree (Procrustes: the signed singular-value sum)."""
    k, n = 6, 8
    manifold = SpecialOrthogonal(n)
    x0 = manifold.random_point(rng=40, shape=(k,))
    b, _, optimum = wahba_batch(k, n, 41)
    options = {"approximation": approximation, "gradient_tolerance": 1e-8}
    res = minimize(wahba_cost, x0, method=method, manifold=manifold, batched=True, args=(b,),
                   jac=wahba_gradient, rng=42, options=options)
    assert res.success.all(), res.status
    np.testing.assert_allclose(res.fun, optimum, rtol=1e-10)
    for i in range(2):
        single = minimize(lambda x, m=b[i]: wahba_cost(x, m), x0[i], method=method,
                          manifold=manifold, jac=lambda x, m=b[i]: wahba_gradient(x, m),
                          rng=42, options=options)
        assert single.success
        np.testing.assert_allclose(res.fun[i], single.fun, rtol=1e-10)
    # the draws are the run's: the same seed repeats the batch exactly
    again = minimize(wahba_cost, x0, method=method, manifold=manifold, batched=True, args=(b,),
                     jac=wahba_gradient, rng=42, options=options)
    np.testing.assert_array_equal(again.x, res.x)
    np.testing.assert_array_equal(again.nit, res.nit)


# -- textbook problems with per-problem optima --------------------------------------------------

@pytest.mark.parametrize("method", ["projunn-d", "projunn-t"])
def test_batched_brockett_on_so5_reaches_every_optimum(method):
    """k = 20 Brockett problems, default options (rank 1, "lsi", Armijo): each reaches
    Σ_j λ_j(A_i)(n + 1 − j) to 1e-8 relative, and its minimizer is an eigenbasis of A_i."""
    k, n = 20, 5
    a, weights, optimum = brockett_batch(k, n, seed=50)
    manifold = SpecialOrthogonal(n)
    problem = Problem(manifold, brockett_cost, euclidean_gradient=brockett_gradient,
                      batch_shape=(k,), args=(a, weights))
    res = ProjUNN(variant=method[-1].upper(), gradient_tolerance=1e-9).run(
        problem, manifold.random_point(rng=51, shape=(k,)), rng=52)
    assert res.success.all(), res.status
    np.testing.assert_allclose(res.fun, optimum, rtol=1e-8)
    # xᵀAx is diagonal at a minimizer (eigenvectors, matched to the weights)
    inner = np.swapaxes(res.x, -1, -2) @ a @ res.x
    off = inner - np.einsum("kii->ki", inner)[:, :, None] * np.eye(n)
    assert np.abs(off).max() <= 1e-6 * np.abs(a).max()
    assert len(np.unique(res.nit)) > 1  # each problem stops on its own
    assert feasibility(res.x).max() <= 100 * EPS * n


@pytest.mark.parametrize("method", ["projunn-d", "projunn-t"])
def test_batched_procrustes_on_so5_reaches_every_optimum(method):
    """k = 20 Procrustes problems: each reaches the signed singular-value sum to 1e-8
    relative, at U diag(1, …, det UVᵀ) Vᵀ."""
    k, n = 20, 5
    b, _, optimum = wahba_batch(k, n, seed=60)
    manifold = SpecialOrthogonal(n)
    res = minimize(wahba_cost, manifold.random_point(rng=61, shape=(k,)), method=method,
                   manifold=manifold, batched=True, args=(b,), jac=wahba_gradient, rng=62)
    assert res.success.all(), res.status
    np.testing.assert_allclose(res.fun, optimum, rtol=1e-8)
    np.testing.assert_allclose(res.x, wahba_minimizers(b), atol=1e-5)
    assert np.allclose(np.linalg.det(res.x), 1.0)


# -- frozen problems, a problem that breaks -----------------------------------------------------

@pytest.mark.parametrize("method", ["projunn-d", "projunn-t"])
def test_problems_at_their_optimum_are_frozen(method):
    """Problems 0 and 3 start at their minimizers: never evaluated again, never moved."""
    k, n = 6, 5
    b, _, optimum = wahba_batch(k, n, seed=70)
    manifold = SpecialOrthogonal(n)
    x0 = manifold.random_point(rng=71, shape=(k,))
    x0[[0, 3]] = wahba_minimizers(b)[[0, 3]]
    seen = []
    res = minimize(wahba_cost, x0, method=method, manifold=manifold, batched=True, args=(b,),
                   jac=wahba_gradient, rng=72, callback=lambda r: seen.append(r.x[[0, 3]].copy()))
    assert res.success.all(), res.status
    assert (res.nit[[0, 3]] == 0).all() and (res.nfev[[0, 3]] == 1).all()
    assert (res.nit[[1, 2, 4, 5]] > 0).all()
    assert (res.status[[0, 3]] == "gradient_tolerance").all()
    assert seen and all(np.array_equal(x, x0[[0, 3]]) for x in seen)
    np.testing.assert_array_equal(res.x[[0, 3]], x0[[0, 3]])
    np.testing.assert_allclose(res.fun, optimum, rtol=1e-8)


@pytest.mark.parametrize("method", ["projunn-d", "projunn-t"])
@pytest.mark.parametrize("what", ["cost", "grad"])
def test_a_problem_that_turns_nonfinite_ends_alone_at_its_last_finite_iterate(method, what):
    """Problem 2's cost (or gradient) turns NaN after 15 evaluations: it ends "nonfinite" at
    a finite point on SO(5) below its starting cost; the others converge."""
    k, n = 5, 5
    b, _, optimum = wahba_batch(k, n, seed=80)
    manifold = SpecialOrthogonal(n)
    x0 = manifold.random_point(rng=81, shape=(k,))
    calls = {"cost": 0, "grad": 0}

    def poisoned(values, ids, counter):
        if np.any(ids == 2):
            calls[counter] += 1
            if calls[counter] > 15:
                values = values.copy()
                values[ids == 2] = np.nan
        return values

    def cost(x, b, ids):
        return poisoned(wahba_cost(x, b), ids, "cost") if what == "cost" else wahba_cost(x, b)

    def grad(x, b, ids):
        g = wahba_gradient(x, b)
        return poisoned(g, ids, "grad") if what == "grad" else g

    res = minimize(cost, x0, method=method, manifold=manifold, batched=True,
                   args=(b, np.arange(k)), jac=grad, rng=82)
    assert res.status[2] == "nonfinite" and not res.success[2]
    assert np.isfinite(res.x[2]).all() and np.isfinite(res.fun[2])
    assert feasibility(res.x[[2]])[0] <= 100 * EPS * n
    assert res.fun[2] < wahba_cost(x0[[2]], b[[2]])[0]
    others = np.array([0, 1, 3, 4])
    assert res.success[others].all(), res.status
    np.testing.assert_allclose(res.fun[others], optimum[others], rtol=1e-8)


@pytest.mark.parametrize("method", ["projunn-d", "projunn-t"])
def test_uphill_sketches_are_used_with_the_opposite_sign(method):
    """Column samples of −∇f (Brockett, direction="euclidean") point uphill about one time
    in ten (⟨grad f_i, a_i b_iᵀ⟩ > 0): reversed, every iteration still takes a step that
    lowers the cost; skipped, those iterations would not move."""
    k, n = 6, 5
    a, weights, _ = brockett_batch(k, n, seed=140)
    manifold = SpecialOrthogonal(n)
    x0 = manifold.random_point(rng=141, shape=(k,))
    res = minimize(brockett_cost, x0, method=method, manifold=manifold, batched=True,
                   args=(a, weights), jac=brockett_gradient, rng=142,
                   options={"approximation": "column", "direction": "euclidean",
                            "stopping": MaxIterations(15)})
    assert (res.nit == 15).all()
    assert (res.history["step_size"][1:] > 0).all()
    assert (np.diff(res.history["cost"], axis=0) < 0).all()


@pytest.mark.parametrize("method", ["projunn-d", "projunn-t"])
def test_newton_schulz_restore_comes_after_every_nth_step(method):
    """x0 off SO(5) by ‖xᵀx − I‖ ≈ 3e-14, below the feasibility guard's threshold, so only
    projUNN's own restore removes it: with reorthonormalize_every=2 after the 2nd step, not
    after the 1st; with 0 never."""
    k, n = 3, 5
    b, _, _ = wahba_batch(k, n, seed=130)
    manifold = SpecialOrthogonal(n)
    x0 = manifold.random_point(rng=131, shape=(k,))
    e = np.random.default_rng(132).standard_normal((k, n, n))
    e = e + np.swapaxes(e, -1, -2)
    x0 = x0 @ (np.eye(n) + 1.5e-14 * e / np.linalg.norm(e, axis=(-2, -1))[:, None, None])
    assert (1e-14 < feasibility(x0)).all() and (feasibility(x0) < 5e-14).all()

    def drift(every, steps):
        res = minimize(wahba_cost, x0, method=method, manifold=manifold, batched=True,
                       args=(b,), jac=wahba_gradient, rng=0,
                       options={"step_size": "fixed", "lr": 0.02, "max_iterations": steps,
                                "reorthonormalize_every": every})
        assert (res.nit == steps).all(), res.status
        return feasibility(res.x)

    assert (drift(2, 1) > 1e-14).all() and (drift(0, 2) > 1e-14).all()
    assert (drift(2, 2) < 2e-15).all()


@pytest.mark.parametrize("method", ["projunn-d", "projunn-t"])
@pytest.mark.parametrize("approximation", ["lsi", "column", "exact"])
def test_unresolvable_decreases_stop_a_problem_after_its_window_of_sketches(method,
                                                                           approximation):
    """f_i = 1e5 − 1e-12⟨B_i, x⟩: every decrease a sketch offers (≤ 1e-11) is below the
    cost's rounding (an ulp of 1e5 is 1.5e-11). A random sketch may just have missed the
    gradient, so a problem draws ``precision_window`` of them (nit = window − 1 iterations
    without a step) before it stops; the deterministic truncated SVD stops at once. The
    gradient never fell, so the verdict is line_search_failed, as in the single run."""
    k, n = 3, 5
    b, _, _ = wahba_batch(k, n, seed=160)
    manifold = SpecialOrthogonal(n)
    x0 = manifold.random_point(rng=161, shape=(k,))
    options = {"approximation": approximation, "gradient_tolerance": 0.0}
    res = minimize(lambda x, m: 1e5 + 1e-12 * wahba_cost(x, m), x0, method=method,
                   manifold=manifold, batched=True, args=(b,),
                   jac=lambda x, m: 1e-12 * wahba_gradient(x, m), rng=0, options=options)
    window = 1 if approximation == "exact" else ProjUNN.precision_window
    np.testing.assert_array_equal(res.nit, window - 1)
    assert (res.status == "line_search_failed").all()
    np.testing.assert_array_equal(res.x, x0)
    single = minimize(lambda x: 1e5 + 1e-12 * wahba_cost(x, b[0]), x0[0], method=method,
                      manifold=manifold, jac=lambda x: 1e-12 * wahba_gradient(x, b[0]), rng=0,
                      options=options)
    assert single.nit == window - 1 and single.status == "line_search_failed"


# -- single precision -------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["projunn-d", "projunn-t"])
@pytest.mark.parametrize("dtype", [np.float32, np.complex64])
def test_single_precision_stays_on_the_manifold(method, dtype):
    k, n = 8, 5
    complex_ = np.dtype(dtype).kind == "c"
    manifold = Unitary(n) if complex_ else SpecialOrthogonal(n)
    b, optimum, signed = wahba_batch(k, n, seed=90, field="complex" if complex_ else "real")
    optimum = optimum if complex_ else signed
    x0 = manifold.random_point(rng=91, shape=(k,)).astype(dtype)
    res = minimize(wahba_cost, x0, method=method, manifold=manifold, batched=True,
                   args=(b.astype(dtype),), jac=wahba_gradient, rng=92)
    eps = np.finfo(dtype).eps
    assert res.x.dtype == dtype
    assert res.success.all(), res.status
    assert feasibility(res.x.astype(np.complex128)).max() <= 100 * eps * n
    # float32 resolves the cost to about eps·|f|; the optimum to a few times that
    np.testing.assert_allclose(res.fun, optimum, rtol=1e3 * eps)
    if not complex_:
        assert np.allclose(np.linalg.det(res.x), 1.0, atol=1e3 * eps)


# -- the column sampler ------------------------------------------------------------------------

def test_column_sampling_per_problem_is_unbiased_and_follows_the_norms():
    """E[a_i b_iᵀ] = Δ_i, columns drawn with p_j ∝ ‖Δ_{:,j}‖², zero Δ_i gives zeros."""
    rng = np.random.default_rng(100)
    delta = rng.standard_normal((3, 4, 4)) * np.array([3.0, 1.0, 0.5, 0.0])
    delta[2] = 0.0
    draws = 4000
    total = np.zeros_like(delta)
    picked = np.zeros((3, 4))
    for _ in range(draws):
        a, b = sample_columns(delta, 2, rng)
        total += a @ np.swapaxes(b, -1, -2)
        picked += b.sum(axis=-1)
    assert np.array_equal(total[2], np.zeros((4, 4)))
    np.testing.assert_allclose(total[:2] / draws, delta[:2], atol=0.1 * np.abs(delta).max())
    norms = (delta[:2] ** 2).sum(axis=1)
    np.testing.assert_allclose(picked[:2] / (2 * draws), norms / norms.sum(-1, keepdims=True),
                               atol=0.02)
    assert (picked[:2, 3] == 0).all()  # a zero column is never drawn


# -- what it refuses ---------------------------------------------------------------------------

def test_bad_input_errors_say_what_works():
    k = 3
    b, _, _ = wahba_batch(k, 5, seed=110)
    x0 = SpecialOrthogonal(5).random_point(rng=111, shape=(k,))
    tall = Stiefel(5, 2)
    with pytest.raises(TypeError, match=r"square orthogonal / unitary matrices.*Stiefel\(5, 2"):
        minimize(lambda x, m: -anp.sum(x * m[..., :2], axis=(-2, -1)), tall.random_point(
            rng=0, shape=(k,)), method="projunn-t", manifold=tall, batched=True, args=(b,))
    with pytest.raises(NotImplementedError, match=r"step_size='armijo'.*or 'fixed'.*StrongWolfe"):
        minimize(wahba_cost, x0, method="projunn-d", manifold=SpecialOrthogonal(5),
                 batched=True, args=(b,), options={"step_size": StrongWolfe()})
    with pytest.raises(ValueError, match=r"a batched cost must return one value per problem"):
        minimize(lambda x, m: -anp.sum(x * m), x0, method="projunn-t",
                 manifold=SpecialOrthogonal(5), batched=True, args=(b,))
    with pytest.raises(ValueError, match=r"x0 has shape \(2, 5, 5\) but a batch of 3 points"):
        ProjUNN().run(Problem(SpecialOrthogonal(5), wahba_cost, batch_shape=(k,), args=(b,)),
                      x0[:2])


def test_other_array_libraries_run_the_same_batch():
    """array-api-strict arrays in, the same optima out (the sketches, projections and
    determinant tests use only the array namespace)."""
    xs = pytest.importorskip("array_api_strict")
    k, n = 3, 5
    b, _, optimum = wahba_batch(k, n, seed=120)
    manifold = SpecialOrthogonal(n)
    x0 = manifold.random_point(rng=121, shape=(k,))
    for method in ("projunn-d", "projunn-t"):
        for approximation in ("lsi", "column"):
            res = minimize(lambda x, m: -xs.sum(x * m, axis=(-2, -1)), xs.asarray(x0),
                           method=method, manifold=manifold, batched=True,
                           args=(xs.asarray(b),), jac=lambda x, m: -m, rng=122,
                           options={"approximation": approximation})
            assert isinstance(res.x, type(xs.asarray(x0))) and res.success.all()
            np.testing.assert_allclose(res.fun, optimum, rtol=1e-8)
