"""The hub's end of the agent socket: one asyncio connection, and starting the agent when none runs.

Replies are matched to requests by id; events go to a callback.  A plain :class:`asyncio.Protocol`
(no stream reader) keeps the hub's CPU per message small.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
from collections.abc import Callable
from typing import Any, cast

from workflow_runtime.executors.base import ExecutorError
from workflow_runtime.executors.local.layout import AgentPaths
from workflow_runtime.executors.local.protocol import LineDecoder, encode

Message = dict[str, Any]

_LAUNCH_ATTEMPTS = 5
"""Connect, and when nobody answers launch an agent, this many times (two hubs may race to launch)."""
_MAX_SOCKET_PATH = 100
_AGENT_MODULE = "workflow_runtime.executors.local.agent"


class AgentRefused(ExecutorError):
    """The agent answered a request with an error."""


class AgentConnection(asyncio.Protocol):
    """One connection to the agent."""

    def __init__(
        self, on_event: Callable[[Message], None], on_lost: Callable[[AgentConnection], None]
    ) -> None:
        self._on_event = on_event
        self._on_lost = on_lost
        self._transport: asyncio.Transport | None = None
        self._decoder = LineDecoder()
        self._replies: dict[int, asyncio.Future[Message]] = {}
        self._ids = itertools.count(1)
        self.closed = False
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        """Done once the connection is gone (the agent exited, or :meth:`close`)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            messages = self._decoder.feed(data)
        except ValueError:
            self.close()
            return
        for message in messages:
            request_id = message.get("id")
            if request_id is None:
                self._on_event(message)
                continue
            reply = self._replies.pop(request_id, None)
            if reply is not None and not reply.done():
                reply.set_result(message)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        for reply in self._replies.values():
            if not reply.done():
                reply.set_exception(ConnectionError("lost the connection to the local executor agent"))
        self._replies.clear()
        self.lost.set_result(None)
        self._on_lost(self)

    async def request(self, op: str, **fields: Any) -> Message:
        """Send one request and return the agent's successful reply (AgentRefused otherwise)."""
        if self.closed or self._transport is None:
            raise ConnectionError("the connection to the local executor agent is closed")
        request_id = next(self._ids)
        reply = asyncio.get_running_loop().create_future()
        self._replies[request_id] = reply
        self._transport.write(encode({"id": request_id, "op": op, **fields}))
        message: Message = await reply
        if not message.get("ok"):
            raise AgentRefused(str(message.get("error")))
        return message

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def connect(
    root: str,
    on_event: Callable[[Message], None],
    on_lost: Callable[[AgentConnection], None],
    *,
    launch: bool,
    idle_timeout: float,
) -> tuple[AgentConnection, Message] | None:
    """Connect to the root's agent and greet it; returns the connection and the hello reply.

    When no agent answers: returns None, or with ``launch`` starts one and retries.
    """
    files = AgentPaths(root)
    for _ in range(_LAUNCH_ATTEMPTS):
        try:
            return await _greet(files.sock, on_event, on_lost)
        except (OSError, EOFError):  # no socket, refused, or the agent exited while we connected
            if not launch:
                return None
        await _launch(root, idle_timeout)
    raise ExecutorError(f"cannot reach the local executor agent at {files.sock}; see {files.log}")


async def _greet(
    sock: str, on_event: Callable[[Message], None], on_lost: Callable[[AgentConnection], None]
) -> tuple[AgentConnection, Message]:
    loop = asyncio.get_running_loop()
    dir_fd = None
    if len(os.fsencode(sock)) > _MAX_SOCKET_PATH:  # reach it through a short /proc path instead
        dir_fd = os.open(os.path.dirname(sock), os.O_PATH)
        sock = f"/proc/self/fd/{dir_fd}/{os.path.basename(sock)}"
    try:
        _, connection = await loop.create_unix_connection(lambda: AgentConnection(on_event, on_lost), sock)
    finally:
        if dir_fd is not None:
            os.close(dir_fd)
    try:
        return connection, await connection.request("hello")
    except BaseException:
        connection.close()
        raise


async def _launch(root: str, idle_timeout: float) -> None:
    """Run the agent's launcher; it returns once the agent listens (or when one already does)."""
    files = AgentPaths(root)
    with open(files.log, "ab") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            _AGENT_MODULE,
            "--root",
            root,
            "--idle-timeout",
            repr(idle_timeout),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    code = await process.wait()
    if code != 0:
        with open(files.log, "rb") as log:
            log.seek(max(0, os.fstat(log.fileno()).st_size - 2000))
            tail = log.read().decode(errors="replace")
        raise ExecutorError(
            f"the local executor agent failed to start (exit {code}); {files.log} ends:\n{tail}"
        )
