"""Atomic file writing: a reader never sees half a file (write to a temporary path, rename).

The temporary files and folders that ``tempfile`` creates are private to their owner
(0600 / 0700). Before the rename they get the modes that the process's umask gives a plain
``open`` or ``mkdir``, so a TF Serving container or a colleague running as another user can
read what was written.

Temporary names are ``.tmp-<pid>-<random>`` (a leading dot and no digits first, so a TF
Serving watcher never takes one for a version). The pid says whose it is: a process killed
while writing leaves its temporary behind, and :func:`remove_stale` (which ``qgcam export``
runs on its export base before every export) deletes those whose process is gone, never one
of a live process. Pids are those of this machine's pid namespace: two containers writing
into one shared folder could see each other's temporaries as stale.

Replacing a folder (:func:`atomic_dir` with ``replace=True``) swaps the new tree and the old
one in a single ``renameat2(..., RENAME_EXCHANGE)`` (:func:`exchange_paths`, Linux 3.15 and
glibc 2.28 or later, and a filesystem that supports it), so the path always names a
complete tree, old or new. Where the exchange is not available the old tree is first
renamed to ``<path>.replaced-<pid>``, then the new one into place: a process killed between
the two renames leaves no ``<path>``, and :func:`remove_stale` puts the old tree back.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import json
import os
import re
import shutil
import tempfile

__all__ = [
    "REPLACED_MARK",
    "TEMP_PREFIX",
    "atomic_dir",
    "atomic_path",
    "exchange_paths",
    "pid_alive",
    "remove_stale",
    "temp_prefix",
    "umask",
    "write_json_atomic",
]

TEMP_PREFIX = ".tmp-"
REPLACED_MARK = ".replaced-"
_TEMP_RE = re.compile(r"^\.tmp-(\d+)-")
_REPLACED_RE = re.compile(r"^(.+)\.replaced-(\d+)$")
_RENAME_NOREPLACE = 1
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
# errno values saying that renameat2 or its flag is missing here (no syscall, a filesystem
# without the flag, a seccomp filter that denies it), not that the rename itself is wrong.
_UNSUPPORTED = {errno.ENOSYS, errno.EINVAL, errno.EPERM, errno.ENOTSUP}


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


def temp_prefix() -> str:
    """``.tmp-<pid>-``: the start of every temporary name this process makes."""
    return f"{TEMP_PREFIX}{os.getpid()}-"


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (killed but not yet reaped).

    Raises:
        ValueError: ``pid`` is not a positive int.
    """
    if isinstance(pid, bool) or not isinstance(pid, int) or pid < 1:
        raise ValueError(f"pid must be a positive int, got {pid!r}")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def remove_stale(directory: str) -> list[str]:
    """Cleans what dead writers left in ``directory``; returns the names it handled.

    * ``.tmp-<pid>-*`` files and folders whose process is gone are deleted.
    * ``<name>.replaced-<pid>`` (an old tree moved aside by the fallback of
      :func:`atomic_dir`) whose process is gone is deleted when ``<name>`` exists, and
      renamed back to ``<name>`` when it does not (the writer died between its two renames).

    Entries of live processes, and ``.tmp-`` names without a pid (written by other tools or
    older versions), are left alone. A missing ``directory``, or a file, is not an error
    (nothing to clean; the caller reports a bad path).
    """
    try:
        names = sorted(os.listdir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return []
    handled = []
    for name in names:
        path = os.path.join(directory, name)
        temp, replaced = _TEMP_RE.match(name), _REPLACED_RE.match(name)
        if temp and not pid_alive(int(temp.group(1))):
            _remove(path)
        elif replaced and not pid_alive(int(replaced.group(2))):
            original = os.path.join(directory, replaced.group(1))
            if os.path.lexists(original):
                _remove(path)
            else:
                os.rename(path, original)
        else:
            continue
        handled.append(name)
    return handled


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


@contextlib.contextmanager
def atomic_path(path: str, *, suffix: str = ""):
    """Yields a temporary file path beside ``path``; renames it onto ``path`` on success.

    On an exception the temporary file is removed and ``path`` is left as it was.
    ``suffix`` keeps an extension that a writer may need (e.g. ``".png"``, ``".h5"``).
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=temp_prefix(), suffix=suffix or os.path.splitext(path)[1], dir=directory
    )
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def exchange_paths(a: str, b: str) -> None:
    """Swaps the names ``a`` and ``b`` (both must exist) in one atomic step.

    ``renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE)`` through the C library: at
    every instant each name refers to one of the two complete trees.

    Raises:
        OSError: with ``errno.ENOSYS`` where the C library has no ``renameat2`` (not Linux,
            glibc before 2.28), ``ENOSYS``/``EINVAL`` where the kernel or filesystem lacks
            the exchange, or the errno of a failed rename (``ENOENT``, ...).
    """
    renameat2 = _renameat2()
    if renameat2 is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available in this C library", a)
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"renameat2(RENAME_EXCHANGE): {os.strerror(code)}", a, None, b)


def _renameat2():
    """The C library's ``renameat2``, or None where it has none."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        function = libc.renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    function.argtypes += [ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


@contextlib.contextmanager
def atomic_dir(path: str, *, replace: bool = False, on_step=None):
    """Yields a temporary directory beside ``path``; publishes it as ``path`` on success.

    Everything done inside the ``with`` block (writing, and checking what was written)
    happens before ``path`` changes. On success the folder gets the umask's mode and
    appears at ``path`` in one rename. On an exception, or a process killed inside the
    block, ``path`` is untouched (a kill leaves the ``.tmp-<pid>-*`` folder for
    :func:`remove_stale`).

    Args:
        path: where the folder appears.
        replace: replace an existing ``path``: the old tree and the new one are swapped
            atomically (:func:`exchange_paths`) and the old one, now at the temporary name,
            is deleted. Where the exchange is not available: two renames through
            ``<path>.replaced-<pid>`` (see the module docstring).
        on_step: optional ``on_step(step)`` called with ``"moved-aside"`` (fallback only:
            the old tree is renamed aside and ``path`` is missing) and ``"swapped"`` (the new
            tree is at ``path``, the old one not yet deleted); for progress and tests.

    Raises:
        FileExistsError: ``path`` exists and ``replace`` is False (checked in the rename
            itself where ``renameat2`` has ``RENAME_NOREPLACE``, so a folder that a
            concurrent writer put there meanwhile, even an empty one, is never replaced).
    """
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=temp_prefix(), dir=parent)
    step = on_step or (lambda _: None)
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~umask())
        if not replace or not os.path.lexists(path):
            _rename_noreplace(tmp, path)
        else:
            try:
                exchange_paths(tmp, path)
            except OSError as e:
                if e.errno not in _UNSUPPORTED:
                    raise
                _replace_by_two_renames(tmp, path, step)
            step("swapped")
    finally:
        if os.path.lexists(tmp):
            _remove(tmp)


def _rename_noreplace(tmp: str, path: str) -> None:
    """Renames ``tmp`` to ``path``, a FileExistsError if ``path`` exists (atomically with
    ``RENAME_NOREPLACE`` where available, so a concurrent writer's folder is never
    replaced, not even an empty one)."""
    renameat2 = _renameat2()
    if renameat2 is not None:
        flags = _RENAME_NOREPLACE
        if renameat2(_AT_FDCWD, os.fsencode(tmp), _AT_FDCWD, os.fsencode(path), flags) == 0:
            return
        code = ctypes.get_errno()
        if code == errno.EEXIST:
            raise FileExistsError(f"{path!r} exists")
        if code not in _UNSUPPORTED:
            raise OSError(code, os.strerror(code), tmp, None, path)
    if os.path.lexists(path):
        raise FileExistsError(f"{path!r} exists")
    os.rename(tmp, path)


def _replace_by_two_renames(tmp: str, path: str, step) -> None:
    """The fallback of :func:`atomic_dir`: ``path`` aside, ``tmp`` in; the old tree then
    sits at ``tmp`` for the caller to delete, as after an exchange."""
    aside = f"{path}{REPLACED_MARK}{os.getpid()}"
    os.rename(path, aside)
    try:
        step("moved-aside")
        os.rename(tmp, path)
    except BaseException:
        if not os.path.lexists(path):
            os.rename(aside, path)  # put the old tree back
        raise
    os.rename(aside, tmp)


def write_json_atomic(path: str, obj) -> None:
    """Writes ``obj`` as indented JSON to ``path`` atomically."""
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
