"""Copying task (Arjovsky et al. 2016) for every training method of W, one thread.

The orthogonal-RNN papers' point: with an orthogonal W (exprnn, dtriv, ...)
the cross-entropy drops far below the memoryless baseline 10·ln 8/(L + 20),
while an unconstrained W (``none``) stays near it. This script trains each
method with the same seed, data and non-orthogonal learning rate, reports the
final held-out cross-entropy as a fraction of the baseline, the accuracy on
the 10 recalled symbols, and wall time, and saves the curves.

Usage (the issue's full size is the default; reduce with the options)::

    .venv/bin/python benchmarks/rnn_copying.py [--delay 200] [--hidden 128] [--batch 128]
        [--iterations 3000] [--methods exprnn,dtriv,scornn,projunn-t,rgd,givens,none]

Writes ``benchmarks/results/rnn_copying.json`` and ``rnn_copying.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import time

# method -> (method name, options, learning rate of W's parameter)
VARIANTS = {
    "exprnn": ("exprnn", {}, 1e-4),
    "dtriv": ("dtriv", {"rebase_every": 100}, 1e-4),
    "scornn": ("scornn", {}, 1e-4),
    "projunn-t": ("projunn-t", {"rank": 1, "approximation": "lsi"}, 1e-4),
    "rgd": ("rgd", {"retraction": "qr"}, 1e-4),
    # block Gauss–Southwell: the top 16 disjoint |Ω_ij| of the RMSprop-scaled gradient per step
    "givens": ("givens", {"rule": "block", "block": 16}, 1e-3),
    "vfield": ("vfield", {"d_max": 0.1}, 1e-4),
    # the plain RNN: W trained like every other weight (None: the shared --lr)
    "none": ("none", {}, None),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=int, default=200)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--iterations", type=int, default=3000)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", default="exprnn,dtriv,scornn,projunn-t,rgd,givens,none")
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "results",
                                                         "rnn_copying.json"))
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    from orthopt.rnn.plots import plot_curves
    from orthopt.rnn.train import TrainConfig, Trainer

    rows, curves = [], {}
    for label in args.methods.split(","):
        if label not in VARIANTS:
            parser.error(f"unknown method {label!r}; use some of {', '.join(VARIANTS)}")
        method, options, orth_lr = VARIANTS[label]
        orth_lr = args.lr if orth_lr is None else orth_lr
        config = TrainConfig(task="copying", length=args.delay, method=method,
                             hidden=args.hidden, batch_size=args.batch,
                             iterations=args.iterations, lr=args.lr, orth_lr=orth_lr,
                             seed=args.seed, eval_every=max(1, args.iterations // 10),
                             checkpoint_every=0, **options)
        with threadpool_limits(1):
            trainer = Trainer(config, progress=False)
            start = time.perf_counter()
            result = trainer.run()
            seconds = time.perf_counter() - start
        history = result["history"]
        baseline = result["baseline"]
        rows.append({"method": label, "orth_lr": orth_lr, "options": options,
                     "status": result["status"],
                     "eval_ce": result["eval_loss"], "ce_over_baseline":
                         result["eval_loss"] / baseline if result["eval_loss"] else None,
                     "recall_accuracy": result["eval_accuracy"],
                     "seconds": seconds, "seconds_per_iteration": seconds / max(1, len(history)),
                     "orthogonality": history[-1]["orthogonality"] if history else None})
        curves[label] = ([r["iteration"] for r in history], [r["loss"] for r in history])
        r = rows[-1]
        print(f"{label:<10} CE/baseline {r['ce_over_baseline']:.4f}  recall acc "
              f"{100 * r['recall_accuracy']:.1f} %  {seconds:.1f} s", flush=True)
    print(f"\ncopying L={args.delay}, n={args.hidden}, batch {args.batch}, {args.iterations} "
          f"iterations, lr {args.lr}, baseline {baseline:.4f}")
    print(f"{'method':<11}{'CE/baseline':>12}{'recall acc':>12}{'s/iter':>9}{'wall s':>9}"
          f"{'‖WᵀW−I‖':>11}")
    for r in rows:
        print(f"{r['method']:<11}{r['ce_over_baseline']:>12.4f}{100 * r['recall_accuracy']:>11.1f}%"
              f"{r['seconds_per_iteration']:>9.3f}{r['seconds']:>9.1f}{r['orthogonality']:>11.1e}")
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    figure = os.path.splitext(args.output)[0] + ".png"
    plot_curves(curves, baseline, figure,
                title=f"copying L={args.delay}, n={args.hidden}, batch {args.batch}",
                ylabel="training cross-entropy")
    with open(args.output, "w") as f:
        json.dump({"delay": args.delay, "hidden": args.hidden, "batch": args.batch,
                   "iterations": args.iterations, "lr": args.lr, "seed": args.seed,
                   "baseline": baseline, "rows": rows, "figure": figure,
                   "curves": {k: v[1] for k, v in curves.items()}}, f)
    return rows


if __name__ == "__main__":
    main()
