"""``GET /api/v1/workflows/{namespace}/{name}/log``: step logs as Argo's WorkflowLogs stream,
``data: {"result": {"content": "<line>", "podName": "<pod>"}}`` per line (Server-Sent Events).

Options: ``podName`` (one step, by pod name or node id), ``logOptions.container`` (``main``; Argo's
``init`` and ``wait`` containers exist only in Kubernetes and have no lines here),
``logOptions.follow``, ``logOptions.tailLines`` (per step) and ``grep`` (a regular expression).
Each step's stdout lines come before its stderr lines (they are kept in two files).

With ``follow`` on a workflow this hub is running, lines are streamed as steps write them and the
stream ends when the workflow does: the run's ``changed()`` tells when steps start and end, and a
running step's log file is read again every :data:`READ_INTERVAL` seconds. Otherwise the logs
written so far are sent and the stream ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import StreamingResponse

from triggerfish.api.auth import AUTHENTICATED
from triggerfish.api.common import event_stream, hub_of, workflow_record
from triggerfish.api.errors import ApiError
from triggerfish.hub import Hub
from triggerfish.store.workflows import WorkflowRecord
from workflow_runtime.controller import names
from workflow_runtime.controller.run import WorkflowRun
from workflow_runtime.executors.base import Executor, LogStream
from workflow_runtime.state import Node, NodeType

router = APIRouter(prefix="/api/v1/workflows", tags=["workflows"], dependencies=AUTHENTICATED)

READ_INTERVAL = 0.2
"""Seconds between reads of a running step's log file while following."""
CONTAINERS = ("main", "init", "wait")
STREAMS: tuple[LogStream, ...] = ("stdout", "stderr")


def pod_name(workflow_name: str, node: Node) -> str:
    template = node.template_name or (node.template_ref or {}).get("template", "")
    return names.pod_name(workflow_name, node.name, template)


def pods_of(nodes: Iterable[Node]) -> list[Node]:
    """Pod nodes that have started, in the order they started."""
    started = [n for n in nodes if n.type == NodeType.POD and n.started_at is not None]
    return sorted(started, key=lambda n: (n.started_at, n.name))


@dataclass
class LogTail:
    """Reads one step's log files incrementally, line by line."""

    pod: str
    step_key: str
    tail_lines: int | None = None
    offsets: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STREAMS, 0))
    partial: dict[str, bytes] = field(default_factory=lambda: dict.fromkeys(STREAMS, b""))
    first: bool = True

    def read(self, executor: Executor, final: bool) -> list[str]:
        """New complete lines; with ``final`` (the step ended) an unterminated last line too."""
        lines: list[bytes] = []
        for stream in STREAMS:
            data = executor.read_log(self.step_key, stream)
            if len(data) < self.offsets[stream]:  # the file was replaced (a retried step)
                self.offsets[stream], self.partial[stream] = 0, b""
            *complete, rest = (self.partial[stream] + data[self.offsets[stream] :]).split(b"\n")
            self.offsets[stream] = len(data)
            self.partial[stream] = b"" if final else rest
            lines += complete + ([rest] if final and rest else [])
        if self.first and self.tail_lines is not None:
            lines = lines[-self.tail_lines :] if self.tail_lines else []
        self.first = False
        return [line.decode(errors="replace") for line in lines]


@dataclass(frozen=True)
class LogQuery:
    pod: str | None
    follow: bool
    tail_lines: int | None
    grep: re.Pattern[str] | None
    silent: bool
    """An ``init``/``wait`` container: no lines."""

    def wanted(self, workflow_name: str, node: Node) -> bool:
        return self.pod is None or self.pod in (node.id, pod_name(workflow_name, node))

    def entries(self, tail: LogTail, lines: list[str]) -> list[dict[str, Any]]:
        if self.silent:
            return []
        return [
            {"content": line, "podName": tail.pod}
            for line in lines
            if self.grep is None or self.grep.search(line)
        ]


class Logs:
    """The log entries of one workflow, once or following it."""

    def __init__(self, hub: Hub, record: WorkflowRecord, query: LogQuery) -> None:
        self.hub, self.record, self.query = hub, record, query
        self.tails: dict[str, LogTail] = {}

    def _tail(self, node: Node) -> LogTail:
        tail = self.tails.get(node.id)
        if tail is None:
            pod = pod_name(self.record.name, node)
            tail = self.tails[node.id] = LogTail(pod, f"{self.record.uid}/{pod}", self.query.tail_lines)
        return tail

    def _read(self, pods: list[Node]) -> list[dict[str, Any]]:
        out = []
        for node in pods:
            if self.query.wanted(self.record.name, node):
                tail = self._tail(node)
                out += self.query.entries(tail, tail.read(self.hub.executor, final=node.fulfilled))
        return out

    async def stored_pods(self) -> list[Node]:
        return pods_of(Node.from_json(n) for n in await self.hub.workflows.load_nodes(self.record.uid))

    async def once(self, pods: list[Node]) -> AsyncIterator[dict[str, Any]]:
        for entry in self._read(pods):
            yield entry

    async def follow(self, run: WorkflowRun) -> AsyncIterator[dict[str, Any]]:
        while True:
            version = await run.changed(-1)  # the current version, at once
            completed = run.phase.completed
            for entry in self._read(pods_of(run.tree.nodes.values())):
                yield entry
            if completed:
                await (
                    self.hub.controller.persister.flush()
                )  # a client that reads the workflow next sees it done
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(run.changed(version), READ_INTERVAL)


async def _stream(hub: Hub, namespace: str, name: str, query: LogQuery) -> StreamingResponse:
    record = await workflow_record(hub, namespace, name)
    logs = Logs(hub, record, query)
    run = hub.controller.runs.get(record.uid)
    if query.follow and run is not None and not run.phase.completed:
        return event_stream(logs.follow(run))
    pods = await logs.stored_pods()
    if query.pod is not None and not any(query.wanted(record.name, n) for n in pods):
        raise ApiError(404, f'pods "{query.pod}" not found')
    return event_stream(logs.once(pods))


def log_query(
    pod: str | None, container: str | None, follow: bool, tail_lines: int | None, grep: str | None
) -> LogQuery:
    container = container or "main"
    if container not in CONTAINERS:
        raise ApiError(
            400, f"logOptions.container: no container {container!r}; steps have {', '.join(CONTAINERS)}"
        )
    try:
        pattern = re.compile(grep) if grep else None
    except re.error as exc:
        raise ApiError(400, f"grep: invalid regular expression: {exc}") from exc
    return LogQuery(pod or None, follow, tail_lines, pattern, container != "main")


Container = Annotated[
    str | None, Query(alias="logOptions.container", description="main (default), init or wait")
]
Follow = Annotated[bool, Query(alias="logOptions.follow")]
TailLines = Annotated[int | None, Query(alias="logOptions.tailLines", ge=0, le=2**31)]
Grep = Annotated[str | None, Query(description="only lines matching this regular expression")]


@router.get("/{namespace}/{name}/log")
async def workflow_logs(
    namespace: str,
    name: str,
    request: Request,
    pod: Annotated[str | None, Query(alias="podName", description="one step: pod name or node id")] = None,
    container: Container = None,
    follow: Follow = False,
    tail_lines: TailLines = None,
    grep: Grep = None,
) -> StreamingResponse:
    return await _stream(
        hub_of(request), namespace, name, log_query(pod, container, follow, tail_lines, grep)
    )


@router.get("/{namespace}/{name}/{pod}/log", deprecated=True)
async def pod_logs(
    namespace: str,
    name: str,
    pod: str,
    request: Request,
    container: Container = None,
    follow: Follow = False,
    tail_lines: TailLines = None,
    grep: Grep = None,
) -> StreamingResponse:
    """Argo's older PodLogs route: the same stream for one step."""
    return await _stream(
        hub_of(request), namespace, name, log_query(pod, container, follow, tail_lines, grep)
    )
