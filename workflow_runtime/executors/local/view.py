"""Reading a finished step's files as the step saw them, without mounting anything.

An isolated step's view is: its private /tmp directory at ``/tmp``, and elsewhere the overlay of its
upper directory on the host's root filesystem.  The overlay was mounted with redirect_dir and
metacopy off, so the upper directory holds whole files, whiteouts (0/0 character devices: "deleted")
and opaque directories (``trusted.overlay.opaque=y``: "hides the lower directory").  Symlinks are
followed inside the view, as the step would have followed them.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
from pathlib import Path
from typing import NamedTuple

from workflow_runtime.executors.local.layout import StepPaths, is_under

_MAX_SYMLINKS = 40


class _Entry(NamedTuple):
    host: str
    """Where the top-most copy of the entry lives on the host."""
    mode: int
    merged: bool
    """A directory whose content comes from both the upper and the lower layer."""


class StepView:
    """Path resolution in one step's view after it ended (or, without isolation, on the host)."""

    def __init__(self, paths: StepPaths, isolated: bool) -> None:
        self._paths = paths
        self._isolated = isolated

    def read_file(self, path: str) -> bytes | None:
        entry = self._resolve(path)
        if entry is None or not stat.S_ISREG(entry.mode):
            return None
        with open(entry.host, "rb") as f:
            return f.read()

    def materialize(self, path: str) -> Path | None:
        entry = self._resolve(path)
        if entry is None:
            return None
        if not entry.merged:
            return Path(entry.host)
        target = self._paths.merged + posixpath.normpath(path)
        if os.path.lexists(target):
            shutil.rmtree(target)
        self._copy_merged(posixpath.normpath(path), target)
        return Path(target)

    def _resolve(self, path: str) -> _Entry | None:
        """Follow ``path`` component by component (symlinks included) through the view."""
        if not path.startswith("/"):
            raise ValueError(f"step paths are absolute, got {path!r}")
        todo = path.split("/")[::-1]
        current = "/"
        entry = self._lookup("/")
        hops = 0
        while todo:
            name = todo.pop()
            if name in ("", "."):
                continue
            if name == "..":
                current = posixpath.dirname(current)
                entry = self._lookup(current)
                continue
            child = posixpath.join(current, name)
            found = self._lookup(child)
            if found is None:
                return None
            if stat.S_ISLNK(found.mode):
                hops += 1
                if hops > _MAX_SYMLINKS:
                    return None
                target = os.readlink(found.host)
                if target.startswith("/"):
                    current = "/"
                todo.extend(target.split("/")[::-1])
                entry = self._lookup(current)
                continue
            current, entry = child, found
        return entry

    def _lookup(self, path: str) -> _Entry | None:
        """The entry for a symlink-free view path, without following a final symlink."""
        if not self._isolated:
            return _host_entry(path, merged=False)
        if is_under(path, "/tmp"):
            return _host_entry(self._paths.tmp + path[len("/tmp") :], merged=False)
        upper = self._paths.upper
        names = [name for name in path.split("/") if name]
        if not names:
            return _host_entry("/", merged=os.path.isdir(upper))
        lower_visible = True
        prefix = ""
        for depth, name in enumerate(names, 1):
            prefix += "/" + name
            try:
                st = os.lstat(upper + prefix)
            except (FileNotFoundError, NotADirectoryError):
                break  # the upper layer has nothing at or below this point
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                return None  # whiteout: the step deleted it
            is_dir = stat.S_ISDIR(st.st_mode)
            if depth == len(names):
                merged = is_dir and lower_visible and not _opaque(upper + prefix) and os.path.isdir(path)
                return _Entry(upper + prefix, st.st_mode, merged)
            if not is_dir:
                return None  # the step replaced a directory on the way with something else
            lower_visible = lower_visible and not _opaque(upper + prefix)
        return _host_entry(path, merged=False) if lower_visible else None

    def _copy_merged(self, path: str, target: str) -> None:
        os.makedirs(target)
        names = set(os.listdir(self._paths.upper + path)) | set(os.listdir(path))
        for name in sorted(names):
            child = posixpath.join(path, name)
            entry = self._lookup(child)
            if entry is None:
                continue
            destination = os.path.join(target, name)
            if entry.merged:
                self._copy_merged(child, destination)
            elif stat.S_ISDIR(entry.mode):
                shutil.copytree(entry.host, destination, symlinks=True)
            else:
                shutil.copy2(entry.host, destination, follow_symlinks=False)
        shutil.copystat(self._paths.upper + path, target)


def _host_entry(host: str, merged: bool) -> _Entry | None:
    try:
        return _Entry(host, os.lstat(host).st_mode, merged)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _opaque(directory: str) -> bool:
    try:
        return os.getxattr(directory, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False
