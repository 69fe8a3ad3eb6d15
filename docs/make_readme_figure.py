"""Draw the figure the README shows: ``docs/_static/readme_retractions.png``.

Run from the repository root after changing orthopt.viz::

    python docs/make_readme_figure.py
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from orthopt import Stiefel  # noqa: E402
from orthopt.viz import plot_retractions  # noqa: E402

OUT = Path(__file__).resolve().parent / "_static" / "readme_retractions.png"


def main():
    x = np.array([[0.8], [0.3], [0.4]])
    x /= np.linalg.norm(x)
    v = Stiefel(3, 1).projection(x, np.array([[-0.3], [0.7], [0.5]]))
    omega = np.array([[0.0, -0.6, -0.9], [0.6, 0.0, -1.0], [0.9, 1.0, 0.0]])
    fig = plt.figure(figsize=(10.0, 4.8), layout="constrained")
    ax = fig.add_subplot(1, 2, 1, projection="3d")
    plot_retractions(x, v, t_max=2.0, ax=ax)
    ax.set_title(r"$S^2$: $t\mapsto R_x(tv)$, same great circle, different speeds")
    ax = fig.add_subplot(1, 2, 2, projection="3d")
    plot_retractions(np.eye(3), omega, t_max=1.2, ax=ax)
    ax.set_title("SO(3) acting on a body: different paths")
    fig.savefig(OUT, dpi=110)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
