"""Time per ``orthopt rnn`` training iteration with BLAS on 1 vs 2 threads.

Chooses the default of ``orthopt rnn --blas-threads``. The sizes are those the
CLI runs by default (copying task, delay L = 200, batch 128, exprnn) at hidden
sizes 64 and 128 (the default), and the digits task (64 steps) at 128; with
``--busy`` each is also timed next to one more busy process (a pure-Python
spin loop). The machine's load average is recorded with the result (these
2-core machines are shared). The thread settings alternate
(1, 2, 1, 2, ...) so that drift in the machine's load hits both alike; the
table gives the median seconds per iteration and the ratio 2 threads / 1 thread
(> 1: one thread is faster).

Usage::

    .venv/bin/python benchmarks/blas_threads.py [--repeats 2] [--rounds 2] [--hidden 64 128]
                                                [--busy]

Writes ``benchmarks/results/blas_threads.json``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from orthopt._threads import blas_threads  # noqa: E402
from orthopt.rnn.train import TrainConfig, Trainer  # noqa: E402


def _spin(stop):
    while not stop.is_set():
        pass


def time_iterations(trainer, threads, repeats):
    """Median seconds of one training iteration under ``blas_threads(threads)``."""
    times = []
    with blas_threads(threads):
        trainer.step()  # warm-up: caches, thread pools
        for _ in range(repeats):
            start = time.perf_counter()
            trainer.step()
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(task, hidden, repeats, rounds, busy):
    config = TrainConfig(task=task, method="exprnn", hidden=hidden, batch_size=128,
                         eval_every=0, checkpoint_every=0)
    trainer = Trainer(config, progress=False)
    stop = multiprocessing.Event()
    spinner = multiprocessing.Process(target=_spin, args=(stop,)) if busy else None
    if spinner is not None:
        spinner.start()
        time.sleep(0.5)
    try:
        samples = {1: [], 2: []}
        for _ in range(rounds):  # alternate the settings: drift hits both alike
            for threads in (1, 2):
                samples[threads].append(time_iterations(trainer, threads, repeats))
    finally:
        if spinner is not None:
            stop.set()
            spinner.join()
    one, two = statistics.median(samples[1]), statistics.median(samples[2])
    return {"task": task, "hidden": hidden, "batch_size": 128, "busy_neighbour": busy,
            "seconds_1_thread": one, "seconds_2_threads": two, "ratio_2_over_1": two / one,
            "samples": {str(k): v for k, v in samples.items()}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="timed iterations per sample")
    parser.add_argument("--rounds", type=int, default=2, help="samples per thread setting")
    parser.add_argument("--hidden", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--busy", action="store_true", help="also time next to a spin loop")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results",
                                                      "blas_threads.json"))
    args = parser.parse_args(argv)
    rows = []
    print(f"{'task':<8} {'hidden':>6} {'busy':>5} {'1 thread [s]':>13} {'2 threads [s]':>14} "
          f"{'2/1':>6}")
    cases = [("copying", h) for h in args.hidden] + [("digits", 128)]
    for busy in (False, True) if args.busy else (False,):
        for task, hidden in cases:
            row = measure(task, hidden, args.repeats, args.rounds, busy)
            row["load_average_1min_after"] = os.getloadavg()[0]
            rows.append(row)
            print(f"{task:<8} {hidden:>6} {str(busy):>5} {row['seconds_1_thread']:>13.4f} "
                  f"{row['seconds_2_threads']:>14.4f} {row['ratio_2_over_1']:>6.2f}", flush=True)
    result = {"benchmark": "blas_threads", "cpu_count": os.cpu_count(),
              "load_average_1_5_15_min_at_end": os.getloadavg(),
              "machine": platform.machine(), "python": platform.python_version(),
              "command": "python benchmarks/blas_threads.py " + " ".join(argv or sys.argv[1:]),
              "rows": rows}
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
