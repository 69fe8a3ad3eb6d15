"""Time per training iteration: orthopt's hand-written BPTT vs a PyTorch expRNN cell.

Both run the same model on the same copying batches in one process on one CPU
thread: W = exp(A) (A skew, ``torch.linalg.matrix_exp`` / ``scipy.linalg.expm``),
modReLU, outputs at every step, cross-entropy, RMSprop on A and on the other
weights. PyTorch differentiates with autograd (through ``matrix_exp``); orthopt
runs its hand-written BPTT and the expm Fréchet adjoint. Before timing, the
PyTorch model is loaded with orthopt's weights and both losses on the same batch
are compared, so the two really are the same cell.

PyTorch is not a dependency of orthopt. Install it into the venv with::

    .venv/bin/pip install torch            # e.g. torch==2.13.0, CPU wheel

Usage::

    .venv/bin/python benchmarks/rnn_torch.py [--hidden 128] [--delay 200] [--batch 128]
                                             [--repeats 10]

Writes ``benchmarks/results/rnn_torch.json``.
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


def _require_torch():
    try:
        import torch
    except ImportError:
        sys.exit("PyTorch is needed for this benchmark (not for orthopt): install it with\n"
                 "    .venv/bin/pip install torch==2.13.0   # or any recent CPU wheel\n"
                 "and run again.")
    return torch


def build_torch_model(torch, params, a):
    """The expRNN cell in PyTorch, initialized with orthopt's weights (float64)."""
    t = {k: torch.tensor(np.asarray(v), requires_grad=True) for k, v in params.items()
         if k != "W"}
    upper = torch.tensor(np.triu(np.asarray(a), 1), requires_grad=True)
    return t, upper


def torch_loss(torch, t, upper, x, y):
    a = upper.triu(1)
    a = a - a.transpose(0, 1)                      # skew A, expRNN's parametrization
    w = torch.linalg.matrix_exp(a)
    batch = x.shape[1]
    h = torch.zeros(batch, w.shape[0], dtype=w.dtype)
    inputs = x @ t["V"].T + t["b"]                 # V x_t + b for all t
    outs = []
    # unbind, not inputs[s]: indexing makes autograd scatter into a full-size zero tensor
    # at every step (O(T²) work); unbind's backward stacks once, as iterating a tensor does
    for x_t in inputs.unbind(0):
        z = x_t + h @ w.T
        h = torch.sign(z) * torch.relu(torch.abs(z) + t["b_mod"])
        outs.append(h)
    hs = torch.stack(outs)
    logits = hs @ t["U"].T + t["c"]
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--delay", type=int, default=200)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "results",
                                                         "rnn_torch.json"))
    args = parser.parse_args(argv)
    torch = _require_torch()
    from threadpoolctl import threadpool_limits

    from orthopt.rnn.train import TrainConfig, Trainer

    torch.set_num_threads(1)
    config = TrainConfig(task="copying", length=args.delay, method="exprnn", hidden=args.hidden,
                         batch_size=args.batch, iterations=10 ** 9, eval_every=0,
                         checkpoint_every=0, lr=1e-3, orth_lr=1e-4)
    with threadpool_limits(1):
        ours = Trainer(config, progress=False)
        params = dict(ours.params)
        t, upper = build_torch_model(torch, params, ours.method.params["A"])
        opt_fast = torch.optim.RMSprop(list(t.values()), lr=config.lr)
        opt_orth = torch.optim.RMSprop([upper], lr=config.orth_lr)

        # same cell: compare the losses on one batch
        x, y = ours.task.train_batch(np.random.default_rng(123), args.batch)
        from orthopt.rnn import cell
        from orthopt.rnn.losses import cross_entropy

        out, _ = cell.forward(dict(params, W=ours.method.weight), x, "modrelu", "all")
        loss_ours = float(cross_entropy(out, y)[0])
        loss_torch = float(torch_loss(torch, t, upper, torch.tensor(x), torch.tensor(y)).detach())

        def torch_step():
            xb, yb = ours.task.train_batch(np.random.default_rng(0), args.batch)
            opt_fast.zero_grad(), opt_orth.zero_grad()
            loss = torch_loss(torch, t, upper, torch.tensor(xb), torch.tensor(yb))
            loss.backward()
            opt_fast.step(), opt_orth.step()

        for _ in range(2):  # warm-up
            ours.step(), torch_step()
        times = {"orthopt": [], "torch": []}
        for _ in range(args.repeats):  # interleaved, so load changes hit both equally
            t0 = time.perf_counter()
            ours.step()
            times["orthopt"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            torch_step()
            times["torch"].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["orthopt"] / med["torch"]
    print(f"copying L={args.delay} (T={args.delay + 20}), n={args.hidden}, batch {args.batch}, "
          f"float64, 1 thread, median of {args.repeats}")
    print(f"loss on one batch: orthopt {loss_ours:.12f}  torch {loss_torch:.12f}  "
          f"|diff| {abs(loss_ours - loss_torch):.2e}")
    print(f"{'implementation':<16}{'s / iteration':>16}")
    for k in ("orthopt", "torch"):
        print(f"{k:<16}{med[k]:>16.4f}")
    print(f"ratio orthopt / torch: {ratio:.3f} (target <= 1.0)")
    result = {"hidden": args.hidden, "delay": args.delay, "batch": args.batch,
              "repeats": args.repeats, "seconds_per_iteration": med, "ratio": ratio,
              "all_times": times, "loss_orthopt": loss_ours, "loss_torch": loss_torch,
              "torch_version": torch.__version__, "numpy_version": np.__version__,
              "machine": platform.machine(), "python": platform.python_version()}
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as f:
        json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
