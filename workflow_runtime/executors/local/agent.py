"""The launcher agent: a small detached process that forks, tracks and reaps the steps of one root.

Run as ``python -m workflow_runtime.executors.local.agent --root DIR [--idle-timeout SECONDS]``.
Steps are its children, not the hub's, so they outlive a hub crash and a restarted hub reattaches
through the socket.  Steps do not outlive the agent: each step child arms PR_SET_PDEATHSIG, and an
isolated one is the init of the step's PID namespace, so its death takes every process of the step
with it (see :mod:`.sandbox`); a later ``wait`` finds neither an exit record nor a live agent
record and raises StepLost.  When the agent exits on its own (shutdown, idle) it kills its steps'
process groups first.  One agent per root, enforced by a flock on ``agent.lock``; it exits once it
has had no step and no client for the idle timeout.

The agent is single-threaded (PDEATHSIG follows the parent *thread*) and event-driven: one epoll
loop over the listening socket, the clients and a SIGCHLD wakeup pipe, with a heap of SIGKILL
deadlines as its only timers.  Imports stay minimal for a fast start and a cheap fork.

Protocol on ``<root>/agent.sock``, newline-delimited JSON (see :mod:`.protocol`)::

    {"id": 1, "op": "hello"}                  -> {"id": 1, "ok": true, "pid": 42, "isolation_problem": null}
    {"id": 2, "op": "start", "key": "uid/pod", "argv": [...], "env": {...}, "cwd": "/src" | null,
     "isolated": true, "stdin": false}        -> {"id": 2, "ok": true, "pid": 43, "started_at": 1.5}
    {"id": 3, "op": "status", "key": "uid/pod"}            -> {"id": 3, "ok": true, "running": true}
    {"id": 4, "op": "kill", "key": "uid/pod", "grace": 30}  -> {"id": 4, "ok": true, "running": true}
    {"id": 5, "op": "shutdown"}               -> {"id": 5, "ok": true}, then the agent exits (its steps die)
    any failure                               -> {"id": n, "ok": false, "error": "why"}
    event to every client when a step ends (after exit.json is written):
    {"ev": "exit", "key": "uid/pod", "exit_code": 143, "started_at": 1.5, "finished_at": 9.0,
     "reason": "Killed", "message": "terminated by signal SIGTERM"}
"""

from __future__ import annotations

import argparse
import fcntl
import heapq
import os
import selectors
import signal
import socket
import time
from collections.abc import Callable
from typing import Any

from workflow_runtime.executors.local import linux, sandbox
from workflow_runtime.executors.local.layout import (
    AgentPaths,
    StepPaths,
    remove_overlay_scratch,
    write_json_atomic,
)
from workflow_runtime.executors.local.protocol import MAX_LINE, LineDecoder, encode

DEFAULT_IDLE_TIMEOUT = 30.0
_READ_CHUNK = 256 * 1024


class _Step:
    __slots__ = ("key", "killed", "paths", "pid", "started_at")

    def __init__(self, key: str, paths: StepPaths, pid: int, started_at: float) -> None:
        self.key = key
        self.paths = paths
        self.pid = pid
        self.started_at = started_at
        self.killed = False


class _Client:
    __slots__ = ("decoder", "out", "sock", "writing")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.decoder = LineDecoder()
        self.out: list[bytes] = []
        self.writing = False


class Agent:
    """The event loop; :meth:`serve` returns when the agent has been idle for ``idle_timeout``."""

    def __init__(
        self, root: str, listener: socket.socket, idle_timeout: float, isolation_problem: str | None
    ) -> None:
        self._root = root
        self._listener = listener
        self._idle_timeout = idle_timeout
        self._isolation_problem = isolation_problem
        self._binds = sandbox.runtime_binds()
        self._pid = os.getpid()
        self._pidfd = os.pidfd_open(self._pid)  # lets a child see whether the agent is still alive
        self._pid_namespace = os.open("/proc/self/ns/pid", os.O_RDONLY)
        self._steps: dict[str, _Step] = {}
        self._by_pid: dict[int, _Step] = {}
        self._clients: set[_Client] = set()
        self._unflushed: set[_Client] = set()
        self._kill_deadlines: list[tuple[float, int]] = []
        self._last_activity = time.monotonic()
        self._stopping = False
        self._selector = selectors.DefaultSelector()
        self._wakeup, wakeup_write = os.pipe()
        os.set_blocking(self._wakeup, False)
        os.set_blocking(wakeup_write, False)
        signal.set_wakeup_fd(wakeup_write, warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        listener.setblocking(False)
        self._selector.register(listener, selectors.EVENT_READ, self._accept)
        self._selector.register(self._wakeup, selectors.EVENT_READ, self._reap)
        self._ops: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "hello": self._hello,
            "start": self._start,
            "status": self._status,
            "kill": self._kill,
            "shutdown": self._shutdown,
        }

    def serve(self) -> None:
        try:
            while not self._stopping and not self._idle_expired():
                events = self._selector.select(self._timeout())
                for key, mask in events:
                    key.data(mask)
                self._fire_kill_deadlines()
                for client in self._unflushed:
                    self._write(client)
                self._unflushed.clear()
                if events:
                    self._last_activity = time.monotonic()
        finally:
            # The parent-death signal reaches only each step's first process; kill whole groups.
            for step in self._steps.values():
                sandbox.signal_group(step.pid, signal.SIGKILL)

    def _idle_expired(self) -> bool:
        idle = not self._steps and not self._clients
        return idle and time.monotonic() >= self._last_activity + self._idle_timeout

    def _timeout(self) -> float | None:
        deadlines = [self._kill_deadlines[0][0]] if self._kill_deadlines else []
        if not self._steps and not self._clients:
            deadlines.append(self._last_activity + self._idle_timeout)
        return max(0.0, min(deadlines) - time.monotonic()) if deadlines else None

    # -- clients -----------------------------------------------------------------------------------

    def _accept(self, mask: int) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            sock.setblocking(False)
            client = _Client(sock)
            self._clients.add(client)
            self._selector.register(sock, selectors.EVENT_READ, lambda m, c=client: self._on_client(c, m))

    def _on_client(self, client: _Client, mask: int) -> None:
        if mask & selectors.EVENT_WRITE:
            self._write(client)
        if not mask & selectors.EVENT_READ or client not in self._clients:
            return
        try:
            data = client.sock.recv(_READ_CHUNK)
            messages = client.decoder.feed(data) if data else None
        except (BlockingIOError, InterruptedError):
            return
        except (OSError, ValueError):
            messages = None
        if messages is None:
            self._drop(client)
            return
        for message in messages:
            self._send(client, self._handle(message))

    def _handle(self, message: dict[str, Any]) -> dict[str, Any]:
        try:
            op = self._ops.get(message.get("op", ""))
            if op is None:
                raise ValueError(f"unknown op {message.get('op')!r}")
            reply = op(message)
            reply["ok"] = True
        except Exception as error:  # a bad request must not take the agent (and its steps) down
            reply = {"ok": False, "error": str(error) or type(error).__name__}
        reply["id"] = message.get("id")
        return reply

    def _send(self, client: _Client, message: dict[str, Any]) -> None:
        client.out.append(encode(message))
        self._unflushed.add(client)

    def _write(self, client: _Client) -> None:
        if client not in self._clients or not client.out:
            return
        data = b"".join(client.out)
        client.out.clear()
        try:
            sent = client.sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self._drop(client)
            return
        if sent < len(data):
            if len(data) - sent > MAX_LINE:  # the client stopped reading
                self._drop(client)
                return
            client.out.append(data[sent:])
        if client.writing != bool(client.out):
            client.writing = bool(client.out)
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if client.writing else 0)
            self._selector.modify(client.sock, events, self._selector.get_key(client.sock).data)

    def _drop(self, client: _Client) -> None:
        self._clients.discard(client)
        self._selector.unregister(client.sock)
        client.sock.close()

    # -- operations --------------------------------------------------------------------------------

    def _hello(self, message: dict[str, Any]) -> dict[str, Any]:
        return {"pid": self._pid, "isolation_problem": self._isolation_problem}

    def _start(self, message: dict[str, Any]) -> dict[str, Any]:
        key = message["key"]
        paths = StepPaths(self._root, key)
        if key in self._steps:
            raise ValueError(f"step {key} is already running")
        if os.path.exists(paths.exit):
            raise ValueError(f"step {key} already ran ({paths.exit} exists); step keys are single-use")
        if message["isolated"] and self._isolation_problem:
            raise ValueError(f"step isolation is unavailable: {self._isolation_problem}")
        started_at = time.time()
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, sandbox.FORWARDED)  # see sandbox.FORWARDED
        try:
            pid = self._fork(isolated=message["isolated"])
            if pid == 0:
                sandbox.exec_step(paths, message, self._pidfd, started_at, self._binds)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        step = _Step(key, paths, pid, started_at)
        self._steps[key] = step
        self._by_pid[pid] = step
        return {"pid": pid, "started_at": started_at}

    def _fork(self, isolated: bool) -> int:
        """Fork a step child; an isolated one is PID 1 of a new PID namespace (see :mod:`.sandbox`)."""
        if not isolated:
            return os.fork()
        linux.unshare(linux.CLONE_NEWPID)  # applies to the next child only: reset right after
        try:
            pid = os.fork()
        except BaseException:
            linux.setns(self._pid_namespace, linux.CLONE_NEWPID)
            raise
        if pid:
            linux.setns(self._pid_namespace, linux.CLONE_NEWPID)
        return pid

    def _status(self, message: dict[str, Any]) -> dict[str, Any]:
        return {"running": message["key"] in self._steps}

    def _kill(self, message: dict[str, Any]) -> dict[str, Any]:
        step = self._steps.get(message["key"])
        if step is None:
            return {"running": False}
        grace = float(message["grace"])
        step.killed = True
        if grace > 0:
            sandbox.signal_group(step.pid, signal.SIGTERM)
            heapq.heappush(self._kill_deadlines, (time.monotonic() + grace, step.pid))
        else:
            sandbox.signal_group(step.pid, signal.SIGKILL)
        return {"running": True}

    def _shutdown(self, message: dict[str, Any]) -> dict[str, Any]:
        self._stopping = True  # the loop flushes this reply, then ends
        return {}

    def _fire_kill_deadlines(self) -> None:
        now = time.monotonic()
        while self._kill_deadlines and self._kill_deadlines[0][0] <= now:
            _, pid = heapq.heappop(self._kill_deadlines)
            if pid in self._by_pid:
                sandbox.signal_group(pid, signal.SIGKILL)

    # -- exits -------------------------------------------------------------------------------------

    def _reap(self, mask: int) -> None:
        try:
            while os.read(self._wakeup, 4096):
                pass
        except BlockingIOError:
            pass
        while True:
            try:
                # WNOWAIT keeps the zombie, so the step's pid (= its process group id) cannot be
                # reused while the group's leftovers are killed, as a container runtime does (for
                # isolated steps the kernel already did: their PID namespace ended with its init).
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return
            if info is None:
                return
            step = self._by_pid.pop(info.si_pid, None)
            if step is not None:
                sandbox.signal_group(info.si_pid, signal.SIGKILL, leader_fallback=False)
            _, status = os.waitpid(info.si_pid, 0)
            if step is not None:
                self._finish(step, status)

    def _finish(self, step: _Step, status: int) -> None:
        code = os.waitstatus_to_exitcode(status)
        exit_code = 128 - code if code < 0 else code
        # A namespace init reports its command's death by signal N as exit 128+N.
        signum = exit_code - 128 if exit_code > 128 and (code < 0 or step.killed) else 0
        message = ""
        if signum:
            message = f"terminated by signal {_signal_name(signum)}"
        elif exit_code in (sandbox.EXIT_SETUP_FAILED, sandbox.EXIT_CANNOT_EXEC, sandbox.EXIT_NOT_FOUND):
            message = _read_text(step.paths.launch_error)
        record = {
            "exit_code": exit_code,
            "started_at": step.started_at,
            "finished_at": time.time(),
            "reason": "Completed" if exit_code == 0 else "Killed" if step.killed and signum else "Error",
            "message": message,
        }
        try:
            os.makedirs(step.paths.dir, exist_ok=True)  # the child may have died before creating it
            write_json_atomic(step.paths.exit, record)
            remove_overlay_scratch(step.paths)  # here rather than in the hub: the agent has time to spare
        except OSError as error:  # clients still hear of the exit; a restarted hub will see StepLost
            print(f"cannot record the exit of step {step.key}: {error}", flush=True)
        del self._steps[step.key]
        event = encode({"ev": "exit", "key": step.key, **record})
        for client in self._clients:
            client.out.append(event)
            self._unflushed.add(client)


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return str(signum)


def _read_text(path: str) -> str:
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def main(argv: list[str] | None = None) -> int:
    """Start an agent for ``--root`` unless one runs already; returns once it is listening (daemonized)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--root", required=True)
    parser.add_argument("--idle-timeout", type=float, default=DEFAULT_IDLE_TIMEOUT)
    args = parser.parse_args(argv)
    root = os.path.abspath(args.root)
    os.makedirs(root, exist_ok=True)
    files = AgentPaths(root)
    lock = os.open(files.lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(f"an agent already serves {root}", flush=True)
        return 0
    os.chdir(root)  # bind relative to it: unix socket paths are limited to 107 bytes
    if os.path.lexists(files.sock):
        os.unlink(files.sock)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(os.path.basename(files.sock))
    listener.listen(1024)
    problem = sandbox.probe_isolation(os.path.join(root, ".probe"))
    if os.fork():
        os._exit(0)  # the launcher returns: the socket already accepts connections
    os.setsid()
    with open(files.pid, "w") as f:
        f.write(f"{os.getpid()}\n")
    print(f"agent {os.getpid()} serving {root}; isolation problem: {problem}", flush=True)
    try:
        Agent(root, listener, args.idle_timeout, problem).serve()
    finally:
        os.unlink(files.sock)
        os.unlink(files.pid)
    print(f"agent {os.getpid()} exiting", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
