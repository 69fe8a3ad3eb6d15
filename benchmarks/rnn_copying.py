"""Copying task (Arjovsky et al. 2016) for every training method of W, one thread.

The orthogonal-RNN papers' point: with an orthogonal W (exprnn, dtriv, ...)
the cross-entropy drops far below the memoryless baseline 10·ln 8/(L + 20),
while a plain RNN learns at best the memoryless solution and stays near it.
This script trains each method with the same seed, data, initial W (Henaff),
modReLU cell and non-orthogonal learning rate (``--lr``, RMSprop), reports the
final held-out cross-entropy as a fraction of the baseline, the accuracy on
the 10 recalled symbols, and wall time, and saves the curves.

The plain-RNN baseline ``none``
-------------------------------
W is a free matrix trained like every other weight: RMSprop with the shared
``--lr`` (1e-3), as the plain RNN of the copying experiments of Kerg et al.
2019 (nnRNN: modReLU RNN, RMSprop, lr 1e-3 on all weights; expRNN and projUNN
compare against an LSTM only), and, as is standard for a vanilla RNN
(Pascanu, Mikolov & Bengio 2013), the global gradient norm clipped to 1.0
(``TrainConfig.clip``). Initial W and cell are those of the orthogonal
methods, so only the constraint differs.

Why the clipping: RMSprop (PyTorch's definition, no bias correction) makes its
first step lr·g/√(0.01 g²) = 10·lr·sign(g) entry-wise, i.e. ‖ΔW‖₂ ≈ 0.6 at
lr 1e-3 and n = 128, which lifts the spectral radius of W above 1. modReLU is
unbounded, so over the 220 steps the hidden state then grows like ρ(W)^t
(measured: ρ = 1.09 at iteration 3, ‖h_T‖ ≈ 4e8; ρ = 1.19 at iteration 4,
‖h_T‖ ≈ 2e17), the BPTT gradient explodes (‖G‖ ≈ 1e17) and poisons RMSprop's
running average of g², after which every step is ≈ 0 and the run freezes in
the exploded state (cross-entropy ≈ 4e11, the 700-iteration result of the
first benchmark run, kept in ``rnn_copying_none.json``). With the gradient
clipped the same explosion happens once but RMSprop's average stays bounded,
the optimizer pulls ρ(W) back to ≈ 1 and the loss settles at the memoryless
baseline. Not clipped, but with W given the orthogonal methods' small
learning rate (``--orth-lr`` 1e-4), the Henaff-initialized free W stays
nearly orthogonal (ρ ≈ 1.01, ‖W‖₂ ≈ 1.2 after 300 iterations) and learns the
task like the orthogonal methods: variant ``none-slow``.

Usage (the issue's full size is the default; reduce with the options)::

    .venv/bin/python benchmarks/rnn_copying.py [--delay 200] [--hidden 128] [--batch 128]
        [--iterations 3000] [--methods exprnn,dtriv,scornn,projunn-t,rgd,givens,none]
        [--output benchmarks/results/rnn_copying_3000_exprnn.json] [--log-dir DIR]
    .venv/bin/python benchmarks/rnn_copying.py --merge auto

A run writes its ``--output`` JSON after every method (so an interrupted run
keeps what finished). ``--merge A.json,B.json`` (or ``auto``: every
``benchmarks/results/rnn_copying_*.json``) collects the rows of runs made in
separate processes into ``benchmarks/results/rnn_copying.json``, keeping per
method the row with the most iterations (each row says its iteration count),
prints the table and draws ``rnn_copying.png``: all training curves against
the baseline, log scale; curves of runs shorter than the longest are dashed.
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
    # the plain RNN: W trained like every other weight (None: the shared --lr), with the
    # vanilla RNN's usual gradient-norm clipping (see the module docstring)
    "none": ("none", {"clip": 1.0}, None),
    # the plain RNN with W at the orthogonal methods' learning rate, no clipping
    "none-slow": ("none", {}, 1e-4),
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
    parser.add_argument("--no-figure", action="store_true",
                        help="write only the JSON (per-method runs that are merged later)")
    parser.add_argument("--log-dir", default=None, metavar="DIR",
                        help="write each method's log.csv/log.jsonl/curves.png into DIR/<method> "
                             "(follow a long run with tail -f)")
    parser.add_argument("--merge", default=None, metavar="A.json,B.json|auto",
                        help="only combine earlier result files into --output (table + figure); "
                             "auto: every rnn_copying_*.json next to --output")
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    from orthopt.rnn.train import TrainConfig, Trainer

    if args.merge:
        return merge(_result_files(args.merge, args.output), args.output)
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
            out = os.path.join(args.log_dir, label) if args.log_dir else None
            trainer = Trainer(config, out=out, progress=False)
            start = time.perf_counter()
            result = trainer.run(overwrite=True)  # a rerun replaces its own log directory
            seconds = time.perf_counter() - start
        history = result["history"]
        baseline = result["baseline"]
        rows.append({"method": label, "iterations": len(history), "orth_lr": orth_lr,
                     "options": options,
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
    return report(args.output, figure=not args.no_figure)


def save(path, data):
    """Write the JSON (after every method, so an interrupted benchmark keeps its results)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    data["figure"] = os.path.splitext(path)[0] + ".png"
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


SETTINGS = ("delay", "hidden", "batch", "lr", "seed")


def _result_files(spec, output):
    """The files named by ``--merge``: a comma-separated list, or ``auto``."""
    if spec != "auto":
        return spec.split(",")
    folder = os.path.dirname(os.path.abspath(output))
    return sorted(os.path.join(folder, name) for name in os.listdir(folder)
                  if name.startswith("rnn_copying_") and name.endswith(".json")
                  and os.path.abspath(os.path.join(folder, name)) != os.path.abspath(output))


def merge(paths, output):
    """Combine result files of runs with the same settings (methods run in separate processes).

    Per method the row with the most iterations wins (a later file wins a tie); every row
    keeps its own ``iterations`` and the file it came from (``source``).
    """
    merged, best = None, {}
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        if merged is None:
            merged = {key: data[key] for key in SETTINGS + ("baseline",)}
        for key in SETTINGS:
            if data[key] != merged[key]:
                raise SystemExit(f"{path} has {key}={data[key]}, not {merged[key]}; "
                                 "merge only runs with the same settings")
        for row in data["rows"]:
            row = dict(row, iterations=row.get("iterations", data["iterations"]),
                       source=os.path.basename(path))
            label = row["method"]
            if label not in best or row["iterations"] >= best[label][0]["iterations"]:
                best[label] = (row, data["curves"].get(label, []))
    if merged is None:
        raise SystemExit("nothing to merge")
    order = list(VARIANTS)
    labels = sorted(best, key=lambda k: order.index(k) if k in order else len(order))
    merged["iterations"] = max(best[k][0]["iterations"] for k in labels)
    merged["rows"] = [best[k][0] for k in labels]
    merged["curves"] = {k: best[k][1] for k in labels}
    save(output, merged)
    return report(output)


def _fmt(value, spec, scale=1.0):
    return format(value * scale, spec) if value is not None else "—"


def report(path, figure=True):
    """Print the table and (``figure``) draw the figure of a result file."""
    with open(path) as f:
        data = json.load(f)
    print(f"\ncopying L={data['delay']}, n={data['hidden']}, batch {data['batch']}, "
          f"lr {data['lr']}, seed {data['seed']}, baseline {data['baseline']:.4f}")
    print(f"{'method':<11}{'iters':>6}{'CE/baseline':>13}{'recall acc':>12}{'s/iter':>9}"
          f"{'wall s':>9}{'‖WᵀW−I‖':>11}  status")
    for r in data["rows"]:
        iters = r.get("iterations", data["iterations"])
        print(f"{r['method']:<11}{iters:>6}{_fmt(r['ce_over_baseline'], '>13.4g')}"
              f"{_fmt(r['recall_accuracy'], '>11.1f', 100)}%"
              f"{r['seconds_per_iteration']:>9.3f}{r['seconds']:>9.1f}"
              f"{_fmt(r['orthogonality'], '>11.1e')}  {r['status']}")
    if figure:
        plot(data, data["figure"])
    return data["rows"]


def plot(data, path, top=20.0):
    """All training curves against the baseline, log scale; shorter (older) runs dashed.

    Curves are geometric moving averages (the per-batch loss is noisy); the axis stops at
    ``top`` and a curve that goes above it is marked with its peak in the legend.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import numpy as np

    iterations = {r["method"]: r.get("iterations", data["iterations"]) for r in data["rows"]}
    longest = max(iterations.values())
    fig, ax = plt.subplots(figsize=(11, 5))
    for k, (label, losses) in enumerate(data["curves"].items()):
        losses = np.asarray(losses, dtype=float)
        window = max(1, len(losses) // 100)
        smooth = np.exp(np.convolve(np.log(losses), np.ones(window) / window, mode="valid"))
        its = np.arange(len(losses) - len(smooth) + 1, len(losses) + 1)
        name = f"{label} ({iterations[label]} it)"
        if smooth[-1] > top:
            name += f", off the axis: ends at {losses[-1]:.0e}"
        elif losses.max() > top:
            name += f", peak {losses.max():.0e} at it {int(losses.argmax()) + 1}"
        ax.plot(its, smooth, color=f"C{k}", lw=1.3,
                ls="--" if iterations[label] < longest else "-", label=name)
    ax.axhline(data["baseline"], color="k", ls=":", lw=1.2,
               label=f"baseline 10·ln 8/(L+20) = {data['baseline']:.4f}")
    ax.set_yscale("log")
    low, _ = ax.get_ylim()
    ax.set_ylim(low, top)
    ax.set_xlabel("iteration")
    ax.set_ylabel("training cross-entropy (moving geometric mean)")
    ax.set_title(f"copying, L = {data['delay']}, n = {data['hidden']}, batch {data['batch']}, "
                 f"lr {data['lr']:g}, one CPU thread")
    legend_title = f"dashed: runs shorter than {longest} it" if min(iterations.values()) < longest \
        else None
    # outside the axes: with seven methods every corner of the plot holds a curve
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), title=legend_title,
              title_fontsize=8)
    ax.grid(True, which="major", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


if __name__ == "__main__":
    main()
