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

Writes ``benchmarks/results/rnn_copying.json`` (after every method) and
``rnn_copying.png``. Methods can run in separate processes (``--output``
per process) and be combined with ``--merge a.json,b.json``.
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
    parser.add_argument("--merge", default=None, metavar="A.json,B.json",
                        help="only combine earlier result files into --output (table + figure)")
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    from orthopt.rnn.train import TrainConfig, Trainer

    if args.merge:
        return merge(args.merge.split(","), args.output)
    rows, curves = [], {}
    meta = {"delay": args.delay, "hidden": args.hidden, "batch": args.batch,
            "iterations": args.iterations, "lr": args.lr, "seed": args.seed}
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
        curves[label] = [r["loss"] for r in history]
        r = rows[-1]
        print(f"{label:<10} CE/baseline {r['ce_over_baseline']:.4f}  recall acc "
              f"{100 * r['recall_accuracy']:.1f} %  {seconds:.1f} s", flush=True)
        save(args.output, dict(meta, baseline=baseline, rows=rows, curves=curves))
    return report(args.output)


def save(path, data):
    """Write the JSON (after every method, so an interrupted benchmark keeps its results)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    data["figure"] = os.path.splitext(path)[0] + ".png"
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def merge(paths, output):
    """Combine result files of runs with the same settings (methods run in separate processes)."""
    merged = None
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        if merged is None:
            merged = data
            continue
        for key in ("delay", "hidden", "batch", "iterations", "lr", "seed"):
            if data[key] != merged[key]:
                raise SystemExit(f"{path} has {key}={data[key]}, not {merged[key]}")
        merged["rows"] += data["rows"]
        merged["curves"].update(data["curves"])
    save(output, merged)
    return report(output)


def report(path):
    """Print the table and draw the figure of a result file."""
    from orthopt.rnn.plots import plot_curves

    with open(path) as f:
        data = json.load(f)
    print(f"\ncopying L={data['delay']}, n={data['hidden']}, batch {data['batch']}, "
          f"{data['iterations']} iterations, lr {data['lr']}, baseline {data['baseline']:.4f}")
    print(f"{'method':<11}{'CE/baseline':>12}{'recall acc':>12}{'s/iter':>9}{'wall s':>9}"
          f"{'‖WᵀW−I‖':>11}")
    for r in data["rows"]:
        print(f"{r['method']:<11}{r['ce_over_baseline']:>12.4f}{100 * r['recall_accuracy']:>11.1f}%"
              f"{r['seconds_per_iteration']:>9.3f}{r['seconds']:>9.1f}{r['orthogonality']:>11.1e}")
    curves = {k: (list(range(1, len(v) + 1)), v) for k, v in data["curves"].items()}
    plot_curves(curves, data["baseline"], data["figure"],
                title=f"copying L={data['delay']}, n={data['hidden']}, batch {data['batch']}",
                ylabel="training cross-entropy")
    return data["rows"]


if __name__ == "__main__":
    main()
