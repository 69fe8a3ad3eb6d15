"""GPU benchmarks: orthopt on CuPy arrays, measured as ratios in one process.

Sections (each prints a table; all results go to ``benchmarks/results/gpu.json``):

``retractions``
    Retraction time in units of one same-size n×n GEMM on the same device, for
    n in ``--sizes`` (default 1024 4096), float32 and float64, SO(n).
``projunn``
    One projUNN-T rank-1 step against one exp step (x·expm(xᴴv)) on SO(n) for
    n = 1024 … 8192: seconds, and the ratio.
``brockett``
    Brockett tr(XᵀAXN) on St(4096, 64) solved by RGD-BB on CuPy against the
    same solver on NumPy (CPU, one BLAS thread): time to ‖grad‖ ≤ 1e-6‖grad₀‖.
``rnn``
    One training iteration (forward, hand-written BPTT, expm Fréchet adjoint,
    RMSprop) of the expRNN copying model, n = 190, L = 1000, batch 128,
    against the same model in PyTorch (autograd through ``matrix_exp``) on the
    same GPU. Where the time goes (kernel launches per time step) is read off
    ``nsys profile python benchmarks/gpu.py --sections rnn``.

Usage::

    python benchmarks/gpu.py                     # CuPy on the current GPU
    python benchmarks/gpu.py --backend numpy --quick   # the same code on the CPU (smoke run)

Needs ``pip install ".[gpu,bench]"`` (CuPy matching the CUDA toolkit, e.g.
``cupy-cuda12x``) and, for the ``rnn`` section, PyTorch with CUDA.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np


# ---------------------------------------------------------------------------
# timing on either backend
# ---------------------------------------------------------------------------

def get_backend(name):
    """(xp module, synchronize(), device description) for 'cupy' or 'numpy'."""
    if name == "cupy":
        try:
            import cupy
        except ImportError:
            sys.exit("CuPy is not installed: pip install cupy-cuda12x (or the wheel for your CUDA), "
                     "or run with --backend numpy for a CPU smoke run.")
        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]

        def sync():
            cupy.cuda.get_current_stream().synchronize()

        return cupy, sync, f"{name} (CuPy {cupy.__version__})"
    return np, (lambda: None), f"CPU {platform.processor() or platform.machine()} (NumPy {np.__version__})"


def timeit(fn, sync, repeats=5, warmup=1):
    """Median wall time of fn() over ``repeats`` runs, synchronizing the device."""
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def on_device(xp, a, dtype):
    return xp.asarray(np.asarray(a), dtype=dtype)


# ---------------------------------------------------------------------------
# sections
# ---------------------------------------------------------------------------

def bench_retractions(xp, sync, sizes, repeats):
    from orthopt.manifolds import SpecialOrthogonal

    rows = []
    for dtype_name in ("float32", "float64"):
        dtype = getattr(xp, dtype_name)
        for n in sizes:
            rng = np.random.default_rng(0)
            a = on_device(xp, rng.standard_normal((n, n)), dtype)
            b = on_device(xp, rng.standard_normal((n, n)), dtype)
            gemm = timeit(lambda: a @ b, sync, repeats)
            for name in SpecialOrthogonal.RETRACTIONS:
                manifold = SpecialOrthogonal(n, retraction=name)
                x = manifold.random_point(rng=1, like=a)
                v = 0.01 * manifold.random_tangent_vector(x, rng=2)
                seconds = timeit(lambda: manifold.retraction(x, v), sync, repeats)
                y = manifold.retraction(x, v)
                rows.append(dict(dtype=dtype_name, n=n, retraction=name, seconds=seconds,
                                 gemm_seconds=gemm, gemm_units=seconds / gemm,
                                 feasibility=manifold.feasibility(y)))
                print(f"{dtype_name:<8} n={n:<6} {name:<8} {seconds * 1e3:10.3f} ms "
                      f"{seconds / gemm:8.2f} GEMM   ‖XᴴX − I‖ = {rows[-1]['feasibility']:.1e}")
    return rows


def bench_projunn(xp, sync, sizes, repeats):
    from orthopt.manifolds import SpecialOrthogonal
    from orthopt.optim import ProjUNN

    rows = []
    for n in sizes:
        manifold = SpecialOrthogonal(n, retraction="exp")
        rng = np.random.default_rng(0)
        template = on_device(xp, np.zeros(1), xp.float32)
        x = manifold.random_point(rng=1, like=template)
        egrad = on_device(xp, rng.standard_normal((n, n)), xp.float32)
        solver = ProjUNN(variant="T", rank=1, approximation="lsi", lr=1e-3, manifold=manifold)
        # a fresh state each call: every timed step is a first step (same work)
        projunn = timeit(lambda: solver.step(x, egrad, None), sync, repeats)
        v = -1e-3 * manifold.projection(x, egrad)
        exp_step = timeit(lambda: manifold.retraction(x, v), sync, repeats)
        rows.append(dict(n=n, projunn_t_rank1=projunn, exp_step=exp_step, ratio=exp_step / projunn))
        print(f"n={n:<6} projUNN-T rank 1 {projunn * 1e3:10.3f} ms   exp step "
              f"{exp_step * 1e3:10.3f} ms   exp/projUNN = {exp_step / projunn:6.1f}")
    return rows


def _brockett(xp, n, p, dtype):
    rng = np.random.default_rng(0)
    q = np.linalg.qr(rng.standard_normal((n, n)))[0]
    a_host = (q * np.linspace(1.0, n, n)) @ q.T
    weights_host = np.arange(p, 0, -1.0)
    optimum = float(np.sum(np.linalg.eigvalsh(a_host)[:p] * weights_host))
    a = on_device(xp, (a_host + a_host.T) / 2, dtype)
    weights = on_device(xp, weights_host, dtype)

    def cost_and_gradient(x):
        ax = a @ x
        return xp.sum(x * ax * weights), 2 * ax * weights

    return cost_and_gradient, optimum


def bench_brockett(xp, sync, n, p):
    from threadpoolctl import threadpool_limits

    from orthopt.manifolds import Stiefel
    from orthopt.optim import Problem, RiemannianGradientDescent

    rows = []
    backends = [("device", xp)] + ([("numpy CPU, 1 thread", np)] if xp is not np else [])
    for label, lib in backends:
        cost_and_gradient, optimum = _brockett(lib, n, p, lib.float64)
        manifold = Stiefel(n, p, retraction="qr")
        x0 = manifold.random_point(rng=3, like=lib.zeros(1, dtype=lib.float64))
        problem = Problem(manifold, None, cost_and_gradient=cost_and_gradient)
        solver = RiemannianGradientDescent(step="bb", gradient_tolerance=0.0,
                                           relative_gradient_tolerance=1e-6, max_iterations=20000)
        with threadpool_limits(1):
            start = time.perf_counter()
            res = solver.run(problem, x0=x0)
            sync()
            seconds = time.perf_counter() - start
        rows.append(dict(backend=label, seconds=seconds, iterations=res.nit, cost=res.fun,
                         optimum=optimum, relative_error=abs(res.fun - optimum) / abs(optimum),
                         status=res.status))
        print(f"Brockett St({n}, {p}) {label:<22} {seconds:8.2f} s  {res.nit:6d} it  "
              f"rel. error {rows[-1]['relative_error']:.1e}  ({res.status})")
    if len(rows) == 2:
        print(f"speed-up device / CPU: {rows[1]['seconds'] / rows[0]['seconds']:.1f}×")
    return rows


def _torch_exprnn_step(torch, device, hidden, batch, length, dtype):
    """One RMSprop training step of the expRNN copying model in PyTorch."""
    gen = torch.Generator().manual_seed(0)
    upper = (0.01 * torch.randn(hidden, hidden, generator=gen, dtype=dtype)).to(device).requires_grad_()
    v = (0.1 * torch.randn(hidden, 10, generator=gen, dtype=dtype)).to(device).requires_grad_()
    b = torch.zeros(hidden, dtype=dtype, device=device, requires_grad=True)
    b_mod = torch.full((hidden,), -0.01, dtype=dtype, device=device, requires_grad=True)
    u = (0.1 * torch.randn(9, hidden, generator=gen, dtype=dtype)).to(device).requires_grad_()
    c = torch.zeros(9, dtype=dtype, device=device, requires_grad=True)
    optimizer = torch.optim.RMSprop([v, b, b_mod, u, c, upper], lr=1e-4)
    x = torch.nn.functional.one_hot(torch.randint(0, 10, (length, batch), generator=gen), 10)
    x = x.to(device=device, dtype=dtype)
    y = torch.randint(0, 9, (length, batch), generator=gen).to(device)

    def step():
        optimizer.zero_grad()
        a = upper.triu(1)
        w = torch.linalg.matrix_exp(a - a.T)
        h = torch.zeros(batch, hidden, dtype=dtype, device=device)
        inputs = x @ v.T + b
        outs = []
        for x_t in inputs.unbind(0):
            z = x_t + h @ w.T
            h = torch.sign(z) * torch.relu(torch.abs(z) + b_mod)
            outs.append(h)
        logits = torch.stack(outs) @ u.T + c
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 9), y.reshape(-1))
        loss.backward()
        optimizer.step()

    return step


def bench_rnn(xp, sync, hidden, length, batch, repeats):
    from orthopt.rnn.train import TrainConfig, Trainer

    config = TrainConfig(task="copying", length=length, method="exprnn", hidden=hidden,
                         batch_size=batch, iterations=10 ** 9, eval_every=0, checkpoint_every=0,
                         dtype="float32")
    like = xp.zeros(1, dtype=xp.float32)
    trainer = Trainer(config, progress=False, like=None if xp is np else like)
    ours = timeit(trainer.step, sync, repeats)
    row = dict(hidden=hidden, length=length, batch=batch, orthopt_seconds=ours)
    print(f"expRNN copying n={hidden} L={length} batch={batch} float32: orthopt {ours * 1e3:.1f} ms/it")
    try:
        import torch
    except ImportError:
        print("  PyTorch not installed: pip install torch (with CUDA) for the comparison")
        return row
    device = "cuda" if xp is not np else "cpu"
    torch_step = _torch_exprnn_step(torch, device, hidden, batch, length + 20, torch.float32)
    torch_sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    theirs = timeit(torch_step, torch_sync, repeats)
    row.update(torch_seconds=theirs, ratio=ours / theirs, torch_version=torch.__version__)
    print(f"  PyTorch {theirs * 1e3:.1f} ms/it   ratio orthopt / torch = {ours / theirs:.2f} "
          f"(target ≤ 1.5)")
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("cupy", "numpy"), default="cupy")
    parser.add_argument("--sections", nargs="+", default=["retractions", "projunn", "brockett", "rnn"],
                        choices=["retractions", "projunn", "brockett", "rnn"])
    parser.add_argument("--quick", action="store_true", help="small sizes (CPU smoke run)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                         "results", "gpu.json"))
    args = parser.parse_args(argv)
    xp, sync, device = get_backend(args.backend)
    print(f"device: {device}")
    quick = args.quick
    result = {"device": device, "backend": args.backend, "quick": quick}
    if "retractions" in args.sections:
        result["retractions"] = bench_retractions(xp, sync, [128] if quick else [1024, 4096],
                                                  args.repeats)
    if "projunn" in args.sections:
        result["projunn"] = bench_projunn(xp, sync, [128, 256] if quick else [1024, 2048, 4096, 8192],
                                          args.repeats)
    if "brockett" in args.sections:
        n, p = (256, 8) if quick else (4096, 64)
        result["brockett"] = bench_brockett(xp, sync, n, p)
    if "rnn" in args.sections:
        hidden, length, batch = (16, 20, 8) if quick else (190, 1000, 128)
        result["rnn"] = bench_rnn(xp, sync, hidden, length, batch, args.repeats)
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
