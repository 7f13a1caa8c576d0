"""Where the local executor keeps things on disk, shared by the hub, the agent and step children.

Everything a restarted hub needs lives in files, so the layout is the durable part of the design::

    <root>/agent.sock agent.pid agent.lock agent.log
    <root>/steps/<workflow uid>/<pod name>/
        upper/ work/ root/     overlay upper dir, overlay work dir, mount point of the step's view
        tmp/                   the step's private /tmp
        stdin stdout.log stderr.log
        launch.json            written by the step child before exec (host pid, start time)
        exit.json              written by the agent when the step ends (atomically)
        launch-error.txt       why the child could not set up or exec the step
        merged/                materialized directories whose content spans the overlay's layers

Stdlib + orjson only: the agent imports this.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from typing import Any

import orjson

LAUNCH_ERROR = "launch-error.txt"

_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def check_step_key(key: str) -> None:
    """Reject keys that could escape ``<root>/steps`` or collide after path normalisation."""
    parts = key.split("/")
    if len(parts) != 2 or any(not p or p[0] == "." or not _KEY_CHARS.issuperset(p) for p in parts):
        raise ValueError(
            f"invalid step key {key!r}: expected '<workflow uid>/<pod name>' of letters, digits, '._-'"
        )


def is_under(path: str, directory: str) -> bool:
    """Whether the normalised absolute ``path`` is ``directory`` or inside it."""
    return path == directory or path.startswith(directory.rstrip("/") + "/")


class AgentPaths:
    """The agent's own files under the executor root."""

    __slots__ = ("lock", "log", "pid", "sock")

    def __init__(self, root: str) -> None:
        self.sock = os.path.join(root, "agent.sock")
        self.pid = os.path.join(root, "agent.pid")
        self.lock = os.path.join(root, "agent.lock")
        self.log = os.path.join(root, "agent.log")


class StepPaths:
    """The files of one step."""

    __slots__ = (
        "dir",
        "exit",
        "launch",
        "launch_error",
        "merged",
        "mountpoint",
        "stderr",
        "stdin",
        "stdout",
        "tmp",
        "upper",
        "work",
    )

    def __init__(self, root: str, key: str) -> None:
        check_step_key(key)
        d = os.path.join(root, "steps", key)
        self.dir = d
        self.upper = d + "/upper"
        self.work = d + "/work"
        self.mountpoint = d + "/root"
        self.tmp = d + "/tmp"
        self.stdin = d + "/stdin"
        self.stdout = d + "/stdout.log"
        self.stderr = d + "/stderr.log"
        self.launch = d + "/launch.json"
        self.exit = d + "/exit.json"
        self.launch_error = d + "/" + LAUNCH_ERROR
        self.merged = d + "/merged"

    def staging_path(self, view_path: str, isolated: bool) -> str:
        """The host path to write so the step sees the file at ``view_path`` when it starts."""
        if not view_path.startswith("/") or os.path.normpath(view_path) != view_path:
            raise ValueError(f"step file path must be absolute and normalised, got {view_path!r}")
        if not isolated:
            return view_path
        if is_under(view_path, "/tmp"):
            return self.tmp + view_path[len("/tmp") :]
        return self.upper + view_path

    def make_tmp(self) -> None:
        """Create the step's /tmp with the sticky world-writable mode programs expect."""
        try:
            os.mkdir(self.tmp)
        except FileExistsError:
            return
        os.chmod(self.tmp, 0o1777)


def write_json_atomic(path: str, value: dict[str, Any]) -> None:
    """Write-then-rename, so readers see the whole record or none (no fsync: a host crash kills steps too)."""
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, orjson.dumps(value))
    finally:
        os.close(fd)
    os.replace(tmp, path)


def read_json(path: str) -> dict[str, Any] | None:
    """The record at ``path``, or None when it is missing or unreadable (a torn write counts as missing)."""
    try:
        with open(path, "rb") as f:
            value = orjson.loads(f.read())
    except (FileNotFoundError, NotADirectoryError, orjson.JSONDecodeError):
        return None
    return value if isinstance(value, dict) else None


def remove_overlay_scratch(paths: StepPaths) -> None:
    """Drop the overlay's internal work dir and mount point of a finished step (its outputs stay)."""
    if os.path.isdir(paths.work):
        shutil.rmtree(paths.work, ignore_errors=True)
    with contextlib.suppress(OSError):
        os.rmdir(paths.mountpoint)
