"""Every gallery lesson in examples/ runs to the end (slow: the docs build runs them too)."""

import os
import re
import runpy
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("plot_*.py"))


def test_api_page_lists_every_public_viz_name():
    import orthopt.viz

    api = (Path(__file__).resolve().parent.parent / "docs" / "api.rst").read_text()
    missing = [name for name in orthopt.viz.__all__ if f"viz.{name}" not in api]
    assert not missing, f"add to docs/api.rst: {missing}"


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs(path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(path.parent)
    monkeypatch.setattr(plt, "show", lambda *a, **k: None)
    runpy.run_path(os.fspath(path), run_name="__main__")
    plt.close("all")


@pytest.mark.parametrize("module", ["orthopt", "orthopt.optim", "orthopt.decomposition",
                                    "orthopt.linalg", "orthopt.viz"])
def test_api_page_lists_every_public_name(module):
    import importlib

    mod = importlib.import_module(module)
    api = (Path(__file__).resolve().parent.parent / "docs" / "api.rst").read_text()
    prefix = module.removeprefix("orthopt").lstrip(".")
    listed = set(re.findall(r"^\s{3}([\w.]+)\s*$", api, flags=re.M))
    missing = [name for name in getattr(mod, "__all__", [])
               if name not in listed and f"{prefix}.{name}" not in listed]
    assert not missing, f"add to docs/api.rst: {missing}"
