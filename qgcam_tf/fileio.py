"""Atomic file writing: a reader never sees half a file (write to a temporary path, rename).

The temporary files and folders that ``tempfile`` creates are private to their owner
(0600 / 0700). Before the rename they get the modes that the process's umask gives a plain
``open`` or ``mkdir``, so a TF Serving container or a colleague running as another user can
read what was written.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile

__all__ = ["atomic_path", "atomic_dir", "umask", "write_json_atomic"]


def umask() -> int:
    """The process's file-mode creation mask (read without changing it where Linux allows)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore at once
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str, *, suffix: str = ""):
    """Yields a temporary file path beside ``path``; renames it onto ``path`` on success.

    On an exception the temporary file is removed and ``path`` is left as it was.
    ``suffix`` keeps an extension that a writer may need (e.g. ``".png"``, ``".h5"``).
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=".tmp-", suffix=suffix or os.path.splitext(path)[1], dir=directory
    )
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


@contextlib.contextmanager
def atomic_dir(path: str):
    """Yields a temporary directory beside ``path``; renames it to ``path`` on success.

    ``path`` must not exist when the rename happens (the caller decides about replacing).
    """
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-", dir=parent)
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~umask())
        os.rename(tmp, path)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp)


def write_json_atomic(path: str, obj) -> None:
    """Writes ``obj`` as indented JSON to ``path`` atomically."""
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
