"""The ``orthopt rnn`` command line: train, write outputs, resume, report bad input."""

import argparse
import json
import os

import pytest

from orthopt.rnn.cli import add_rnn_subparser


def _run(argv):
    parser = argparse.ArgumentParser(prog="orthopt")
    add_rnn_subparser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


TINY = ["--hidden", "6", "--length", "4", "--batch-size", "4", "--eval-every", "3",
        "--checkpoint-every", "3", "--no-progress"]


def test_train_then_resume(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert _run(["rnn", "copying", "--method", "dtriv", "--iterations", "6", "--out", out]
                + TINY) == 0
    text = capsys.readouterr().out
    assert "finished 6 iterations" in text and "baseline" in text
    for name in ("config.json", "log.csv", "log.jsonl", "checkpoint.npz", "curves.png"):
        assert os.path.exists(os.path.join(out, name)), name
    # resume reads the settings back; only --iterations changes
    assert _run(["rnn", "copying", "--out", out, "--resume", "--iterations", "9",
                 "--no-progress"]) == 0
    with open(os.path.join(out, "config.json")) as f:
        config = json.load(f)
    assert config["method"] == "dtriv" and config["iterations"] == 9 and config["hidden"] == 6
    with open(os.path.join(out, "log.jsonl")) as f:
        assert [json.loads(line)["iteration"] for line in f] == list(range(1, 10))


def test_bad_arguments(tmp_path, capsys):
    with pytest.raises(SystemExit):
        _run(["rnn", "copying", "--method", "lstm", "--out", str(tmp_path)])
    assert _run(["rnn", "copying", "--hidden", "0", "--out", str(tmp_path), "--no-progress"]) == 2
    assert "hidden" in capsys.readouterr().err
    assert _run(["rnn", "mnist", "--data-dir", str(tmp_path), "--out", str(tmp_path / "m"),
                 "--no-progress"]) == 2
    assert "train-images-idx3-ubyte" in capsys.readouterr().err
    assert _run(["rnn", "adding", "--resume", "--out", str(tmp_path / "nothing"),
                 "--no-progress"]) == 2
    assert "checkpoint" in capsys.readouterr().err
