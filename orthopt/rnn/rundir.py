"""The run directory of ``orthopt rnn``: one writer at a time, files replaced whole, damage named.

A run directory holds ``config.json``, ``log.jsonl``, ``log.csv``,
``checkpoint.npz`` and ``curves.png``. Three rules keep it consistent
whatever happens to the process (Ctrl-C, ``kill -9``, a second run started by
mistake):

* **One writer.** A run holds an exclusive ``fcntl.flock`` on ``DIR/.lock``
  for its whole duration; the file records the holder's pid, host and start
  time so a refused second run can name it. The operating system releases a
  flock when its process dies, even by ``kill -9``: a stale lock cannot block
  a later run, and there is nothing to clean up by hand. (On systems without
  ``fcntl`` — Windows — no lock is taken.)
* **Whole files or nothing.** Files that are rewritten (the logs on resume,
  ``config.json``, the checkpoint) go to a temporary file in the same
  directory, are flushed and fsynced, and replace the old file with
  :func:`os.replace` (atomic on POSIX and Windows); the directory is then
  fsynced so the rename itself survives a crash. A kill leaves the old file or
  the new one, never a truncated one; leftover temporaries are removed by the
  next run that holds the lock.
* **Damage is named.** A file that cannot be read back (a truncated checkpoint,
  a ``config.json`` that is not a JSON object, ...) raises
  :class:`DamagedFileError` with the file and what is wrong with it; the CLI
  turns that into one line and exit code 4. A partial *last* line of
  ``log.jsonl`` is what a kill in the middle of an append leaves: it is dropped
  (the row is rewritten when its iteration is run again) and reported.
"""

from __future__ import annotations

import contextlib
import datetime
import glob
import json
import os
import socket

__all__ = ["DamagedFileError", "RunRefusedError", "RUN_FILES", "lock_run_directory",
           "holds_a_run", "remove_temporaries", "atomic_write_text", "read_log", "read_json_object",
           "check_training_checkpoint"]

#: Files that make a directory a run directory (the lock file alone does not).
RUN_FILES = ("config.json", "log.jsonl", "log.csv", "checkpoint.npz", "curves.png")

LOCK_NAME = ".lock"
_TEMPORARIES = (".checkpoint-*.tmp", ".log.jsonl-*.tmp", ".log.csv-*.tmp", ".config.json-*.tmp")


class DamagedFileError(ValueError):
    """A file of the run directory cannot be used; ``path`` names it, ``problem`` says why."""

    def __init__(self, path, problem):
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class RunRefusedError(RuntimeError):
    """The run directory's state does not allow this run (in use, exists, or already further)."""


@contextlib.contextmanager
def lock_run_directory(directory):
    """Hold an exclusive lock on ``directory`` (created if missing) for the ``with`` block.

    Raises
    ------
    RunRefusedError
        Another process holds the lock; the message names it (pid, host, start time).
    """
    os.makedirs(directory, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory locks of this kind
        yield
        return
    path = os.path.join(directory, LOCK_NAME)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except (BlockingIOError, PermissionError):
            holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip() or "unknown"
            raise RunRefusedError(
                f"{directory} is in use by another run ({holder}); wait for it to finish or "
                "stop it, or pick another --out (a run that died holds no lock: the system "
                "releases it)") from None
        started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        holder = f"pid {os.getpid()} on {socket.gethostname()}, started {started}"
        os.ftruncate(fd, 0)
        os.pwrite(fd, holder.encode() + b"\n", 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def holds_a_run(directory):
    """Whether ``directory`` already holds any output of a run."""
    return any(os.path.lexists(os.path.join(directory, name)) for name in RUN_FILES)


def remove_temporaries(directory):
    """Delete temporaries that killed writers left behind (call only while holding the lock)."""
    removed = []
    for pattern in _TEMPORARIES:
        for path in glob.glob(os.path.join(glob.escape(directory), pattern)):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
                removed.append(path)
    return removed


def fsync_directory(directory):
    """Make a rename in ``directory`` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse fsync on directories
        pass
    finally:
        os.close(fd)


def atomic_write_text(path, text):
    """Replace ``path`` by a file holding ``text``: the old content or the new, never a mix."""
    import tempfile

    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + "-", suffix=".tmp",
                               dir=directory)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    fsync_directory(directory)


def read_json_object(path, what="a JSON object"):
    """The dict stored in the JSON file ``path``; DamagedFileError if it is anything else."""
    if os.path.isdir(path):
        raise DamagedFileError(path, "is a directory, not a file; remove it")
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except (OSError, UnicodeDecodeError) as err:
        raise DamagedFileError(path, f"cannot be read ({err})") from None
    except json.JSONDecodeError as err:
        raise DamagedFileError(path, f"is not valid JSON ({err})") from None
    if not isinstance(value, dict):
        raise DamagedFileError(path, f"holds {type(value).__name__} {str(value)[:40]}, "
                                     f"not {what}")
    return value


def read_log(path):
    """Rows of ``log.jsonl`` and a note if a partial last line (a kill mid-append) was dropped.

    Returns
    -------
    rows : list of dict
        One per line, each with an integer ``"iteration"``.
    note : str or None

    Raises
    ------
    DamagedFileError
        A line other than the last is not a JSON object with an integer iteration.
    """
    if not os.path.exists(path):
        return [], None
    if os.path.isdir(path):
        raise DamagedFileError(path, "is a directory, not a file; remove it")
    with open(path, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    # a complete file ends with a newline, so the last piece is empty
    tail = lines.pop()
    rows, note = [], None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            ok = isinstance(row, dict) and type(row.get("iteration")) is int
        except (json.JSONDecodeError, UnicodeDecodeError):
            ok = False
        if not ok:
            raise DamagedFileError(path, f"line {number} is not a log row "
                                         f"({line[:60].decode('utf-8', 'replace')!r})")
        rows.append(row)
    if tail.strip():
        note = (f"dropped a partial last line of {path} ({len(tail)} bytes without a newline, "
                "left by a kill while it was written); its iteration is run again")
    return rows, note


def check_training_checkpoint(path, arrays, meta):
    """Raise DamagedFileError unless (arrays, meta) look like a checkpoint of the trainer."""
    for key, kind in (("iteration", int), ("rng", dict), ("config", dict)):
        if key not in meta:
            raise DamagedFileError(path, f"its header has no {key!r} entry")
        value = meta[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise DamagedFileError(path, f"its header's {key!r} is {type(value).__name__}, "
                                         f"not {kind.__name__}")
    if meta["iteration"] < 0:
        raise DamagedFileError(path, f"its iteration is negative ({meta['iteration']})")
    rng = meta["rng"]
    if not isinstance(rng.get("bit_generator"), str) or not isinstance(rng.get("state"), dict):
        raise DamagedFileError(path, "its random-generator state has no bit_generator/state")
    params = {k: v for k, v in arrays.items() if k.startswith(("param/", "method/param/"))}
    if not params:
        raise DamagedFileError(path, "it holds no weights (no 'param/...' arrays)")
    for name, value in params.items():
        if value.dtype.kind not in "fc":
            raise DamagedFileError(path, f"weight {name!r} has dtype {value.dtype}, "
                                         "not a floating-point type")
