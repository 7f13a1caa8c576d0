"""What a step child does between the agent's fork and exec: detach, redirect stdio, enter its view.

The view is the host's root filesystem seen through an overlay whose upper layer belongs to the step
(so writes anywhere stay private), with a private /tmp, the host's /dev and /sys, and a fresh /proc,
all inside a new mount namespace that disappears with the step's last process.  Doing this in the
forked Python child costs a few ms of the child's CPU and none of the agent's.

An isolated step's child is also PID 1 of a new PID namespace (the agent forks it so).  It stays as
the namespace's init: it runs the command as its only child, forwards termination signals to the
command's process group, and exits with the command's status; the kernel then kills whatever the
command left behind.  Its parent-death signal therefore takes the whole step down with the agent,
which a parent-death signal on the command alone would not (its children would be orphaned).

Exit codes follow ``docker run``: 125 when the runtime cannot set the step up, 126 when the command
cannot be executed, 127 when it is not found; the reason goes to ``launch-error.txt`` and stderr.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
from types import FrameType
from typing import Any, NoReturn

from workflow_runtime.executors.local import linux
from workflow_runtime.executors.local.layout import LAUNCH_ERROR, StepPaths, is_under, write_json_atomic

EXIT_SETUP_FAILED = 125
EXIT_CANNOT_EXEC = 126
EXIT_NOT_FOUND = 127

_NOT_BINDABLE = ("/dev", "/proc", "/sys", "/tmp")
"""Mounted into every view anyway (or replaced, for /tmp)."""

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
"""What a namespace init passes on to the command (it would otherwise drop them: an init ignores
signals it has no handler for). The agent forks with them blocked, so one sent before the child has
its handlers stays pending (the kernel never drops a blocked signal) instead of being lost."""

_command = 0
"""In a namespace init: the command's pid once forked."""


def isolation_problem() -> str | None:
    """Why overlay views cannot work on this host, from cheap checks; None when they look possible."""
    if os.geteuid() != 0:
        return f"it needs root (this process runs as uid {os.geteuid()})"
    with open("/proc/filesystems") as f:
        if any(line.split()[-1:] == ["overlay"] for line in f):
            return None
    modules = f"/lib/modules/{os.uname().release}/kernel/fs/overlayfs"
    if os.path.isdir(modules):
        return None
    return "the kernel has no overlayfs (not in /proc/filesystems and no overlay module)"


def probe_isolation(scratch: str) -> str | None:
    """Why overlay views cannot work, found by mounting one in a throwaway child; None when they work."""
    problem = isolation_problem()
    if problem is not None:
        return problem
    upper, work, target = (os.path.join(scratch, name) for name in ("upper", "work", "root"))
    for d in (upper, work, target):
        os.makedirs(d, exist_ok=True)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            linux.unshare(linux.CLONE_NEWNS | linux.CLONE_NEWPID)
            linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
            _mount_overlay(upper, work, target)
            os._exit(0)
        except BaseException as error:
            os.write(write_end, str(error).encode(errors="replace"))
            os._exit(1)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        reason = pipe.read().decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    return None if status == 0 else reason or f"probe exited with status {status}"


def runtime_binds() -> list[str]:
    """Host mount points other than / that hold this interpreter and this package (and so the
    ``argosay`` tool), and such directories under /tmp, which every view replaces with its own.

    They are bound read-only into each view: the overlay's lower layer is the root filesystem alone.
    """
    with open("/proc/self/mountinfo", "rb") as f:
        points = [_unescape(line.split()[4]) for line in f]
    binds = set()
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    for path in (sys.prefix, sys.base_prefix, os.path.realpath(sys.executable), package_root):
        if is_under(path, "/tmp") and path != "/tmp":  # e.g. a checkout in /tmp with its .venv
            binds.add(path if os.path.isdir(path) else os.path.dirname(path))
            continue
        point = max((p for p in points if is_under(path, p)), key=len, default="/")
        if point != "/" and not any(is_under(point, d) for d in _NOT_BINDABLE):
            binds.add(point)
    return sorted(binds)


def _unescape(field: bytes) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal."""
    return os.fsdecode(field.decode("latin-1").encode("latin-1").decode("unicode_escape").encode("latin-1"))


def exec_step(
    paths: StepPaths, request: dict[str, Any], agent_pidfd: int, started_at: float, binds: list[str]
) -> NoReturn:
    """Become the step (or, isolated, its namespace's init): never returns, never raises, since this
    runs in the agent's forked child."""
    argv: list[str] = request["argv"]
    env: dict[str, str] = request["env"]
    isolated: bool = request["isolated"]
    dir_fd = -1  # where launch-error.txt goes: the host path is out of reach once chrooted
    try:
        host_pid = int(os.readlink("/proc/self"))  # getpid() says 1 inside the new PID namespace
        _detach(agent_pidfd, isolated)
        os.makedirs(paths.dir, exist_ok=True)
        dir_fd = os.open(paths.dir, os.O_RDONLY | os.O_DIRECTORY)
        _redirect_stdio(paths, request)
        write_json_atomic(paths.launch, {"pid": host_pid, "started_at": started_at})
        cwd = request["cwd"]
        if isolated:
            _enter_view(paths, binds)
            cwd = cwd or "/"
        else:
            cwd = cwd or paths.dir
        os.makedirs(cwd, exist_ok=True)
        os.chdir(cwd)
    except BaseException as error:
        _fail(dir_fd, EXIT_SETUP_FAILED, f"step setup failed: {error}")
    if isolated:
        _run_as_init(argv, env, dir_fd)
    _exec(argv, env, dir_fd)


def signal_group(pid: int, signum: int, leader_fallback: bool = True) -> None:
    """Signal the process group ``pid`` leads; before the leader's setsid/setpgid there is only it."""
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:
        if leader_fallback:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)


def _detach(agent_pidfd: int, isolated: bool) -> None:
    """Own session and process group, die with the agent, default signal dispositions."""
    signal.set_wakeup_fd(-1)
    for signum in (signal.SIGCHLD, signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(signum, signal.SIG_DFL)
    if isolated:  # handlers first: a namespace init drops signals it has no handler for
        for signum in FORWARDED:
            signal.signal(signum, _forward)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED)  # a kill sent meanwhile is delivered now
    os.setsid()
    linux.set_parent_death_signal(signal.SIGKILL)
    if select.select([agent_pidfd], [], [], 0)[0]:
        os._exit(EXIT_SETUP_FAILED)  # the agent died before the death signal was armed


def _forward(signum: int, frame: FrameType | None) -> None:
    if _command:
        signal_group(_command, signum)
    else:
        os._exit(128 + signum)  # still setting up (or the command's child before exec): just end


def _run_as_init(argv: list[str], env: dict[str, str], dir_fd: int) -> NoReturn:
    """Run the command in its own process group and exit with its status (128+N for signal N)."""
    global _command
    try:  # posix_spawn (vfork + exec) spares a second copy of this process's page tables
        _command = os.posix_spawn(_which(argv[0], env), argv, env, setpgroup=0, setsigdef=FORWARDED)
    except OSError as error:
        _cannot_run(argv[0], error, dir_fd)
    while True:
        pid, status = os.wait()  # also reaps orphans the command leaves to its init
        if pid == _command:
            code = os.waitstatus_to_exitcode(status)
            os._exit(128 - code if code < 0 else code)


def _exec(argv: list[str], env: dict[str, str], dir_fd: int) -> NoReturn:
    try:
        os.execve(_which(argv[0], env), argv, env)
    except OSError as error:
        _cannot_run(argv[0], error, dir_fd)


def _which(program: str, env: dict[str, str]) -> str:
    """The file ``program`` names, searched in the step's PATH (not the agent's) like execvp."""
    if "/" in program:
        return program
    for directory in env.get("PATH", os.defpath).split(":"):
        candidate = os.path.join(directory or ".", program)
        if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            return candidate
    raise FileNotFoundError(2, "No such file or directory", program)


def _cannot_run(program: str, error: OSError, dir_fd: int) -> NoReturn:
    code = EXIT_NOT_FOUND if isinstance(error, FileNotFoundError) else EXIT_CANNOT_EXEC
    _fail(dir_fd, code, f"cannot run {program!r}: {error.strerror}")


def _redirect_stdio(paths: StepPaths, request: dict[str, Any]) -> None:
    stdin = os.open(paths.stdin if request["stdin"] else os.devnull, os.O_RDONLY)
    stdout = os.open(paths.stdout, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    stderr = os.open(paths.stderr, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    for fd, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
        os.dup2(fd, target)
        os.close(fd)


def _enter_view(paths: StepPaths, binds: list[str]) -> None:
    for d in (paths.upper, paths.work, paths.mountpoint):
        os.makedirs(d, exist_ok=True)
    paths.make_tmp()
    linux.unshare(linux.CLONE_NEWNS)
    linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
    root = paths.mountpoint
    _mount_overlay(paths.upper, paths.work, root)
    linux.mount("/dev", root + "/dev", None, linux.MS_BIND | linux.MS_REC)
    linux.mount("/sys", root + "/sys", None, linux.MS_BIND | linux.MS_REC)
    linux.mount("proc", root + "/proc", "proc", linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC)
    linux.mount(paths.tmp, root + "/tmp", None, linux.MS_BIND)
    for path in binds:
        os.makedirs(root + path, exist_ok=True)  # under the view's own /tmp it does not exist yet
        linux.mount(path, root + path, None, linux.MS_BIND | linux.MS_REC)
        linux.mount(None, root + path, None, linux.MS_REMOUNT | linux.MS_BIND | linux.MS_RDONLY)
    os.chroot(root)


def _mount_overlay(upper: str, work: str, target: str) -> None:
    """lowerdir=/ with the step's upper layer; redirect_dir/metacopy off keep the upper dir plain files
    (plus whiteouts and opaque dirs), which is what :mod:`.view` knows how to read."""
    options = f"lowerdir=/,upperdir={upper},workdir={work},redirect_dir=off,metacopy=off"
    linux.mount("overlay", target, "overlay", 0, options)


def _fail(dir_fd: int, code: int, message: str) -> NoReturn:
    try:
        data = message.encode(errors="replace")
        os.write(2, b"triggerfish: " + data + b"\n")
        if dir_fd >= 0:
            fd = os.open(LAUNCH_ERROR, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644, dir_fd=dir_fd)
            os.write(fd, data)
    finally:
        os._exit(code)
