"""One workflow run: its node tree, its variables, and the dispatch from a call to a template kind.

Execution is a tree of coroutines mirroring the node tree. Each node's coroutine first looks its
node up by name: a fulfilled node is returned as is and a running one is re-entered. That makes a
run restartable: after a crash the same coroutines are started again from the root, finished nodes
are not run again, and in-flight steps are reattached through the executor.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from triggerfish.store.memo import MemoStore
from triggerfish.store.workflows import StatusUpdate
from workflow_runtime.artifacts.context import ArtifactContext
from workflow_runtime.controller import dag, locking, memoize, names, pods, retry, steps, suspend
from workflow_runtime.controller.durations import parse_duration
from workflow_runtime.controller.hooks import lifecycle_hooks, watch_hooks, workflow_environment
from workflow_runtime.controller.invocation import Invocation
from workflow_runtime.controller.locking import waiting_message
from workflow_runtime.controller.loops import go_json
from workflow_runtime.controller.parameters import ArgumentError, process_template
from workflow_runtime.controller.persistence import Persister
from workflow_runtime.controller.sync import SyncManager, lock_keys
from workflow_runtime.controller.templates import Call, TemplateNotFound, TemplateResolver
from workflow_runtime.controller.tree import NodeTree
from workflow_runtime.controller.variables import global_variables, rfc3339
from workflow_runtime.executors.base import Executor
from workflow_runtime.spec.common import RetryStrategy
from workflow_runtime.spec.template import Template
from workflow_runtime.spec.workflow import Workflow, WorkflowSpec
from workflow_runtime.state import Node, NodePhase, NodeType, WorkflowPhase, format_time, utcnow
from workflow_runtime.templating import TemplateError

log = logging.getLogger(__name__)

DEADLINE_MESSAGE = "Step exceeded its deadline"


@dataclass(slots=True)
class RunSettings:
    kill_grace_seconds: float = 30.0
    keep_step_files: bool = False
    artifacts: ArtifactContext = field(default_factory=ArtifactContext)
    """Artifact repositories and secrets (none configured: steps that need a repository error)."""


class WorkflowRun:
    """Drives one workflow to completion. Create with :meth:`from_workflow`, then ``await run()``."""

    def __init__(
        self,
        workflow: Workflow,
        spec: WorkflowSpec,
        uid: str,
        created_at: datetime,
        resolver: TemplateResolver,
        executor: Executor,
        persister: Persister,
        settings: RunSettings | None = None,
        static_status: dict[str, Any] | None = None,
        memo: MemoStore | None = None,
        sync: SyncManager | None = None,
    ) -> None:
        self.workflow = workflow
        self._static_status = static_status or {}
        self.memo = memo
        self.sync = sync or SyncManager()
        self.spec = spec
        self.uid = uid
        self.name = workflow.metadata.name or ""
        self.namespace = workflow.metadata.namespace or "default"
        self.created_at = created_at
        self.resolver = resolver
        self.executor = executor
        self.settings = settings or RunSettings()
        self.host_name = socket.gethostname()
        self.phase = WorkflowPhase.PENDING
        self.message = ""
        self.started_at: datetime | None = None
        self.finished_at: datetime | None = None
        self.outputs: dict[str, Any] = {}
        self.globals = global_variables(workflow.metadata, spec, uid, self.namespace, created_at)
        self._persister = persister
        self.tree = NodeTree(self.name, self._node_changed)
        self.running_steps: dict[str, Node] = {}
        self.kill_reasons: dict[str, str] = {}
        self.shutdown: str | None = spec.shutdown
        self._deadline_exceeded = False
        self._resumed = asyncio.Event()
        if not spec.suspend:
            self._resumed.set()
        self._suspend_events: dict[str, asyncio.Event] = {}
        self._suspend_verdicts: dict[str, tuple[NodePhase, str]] = {}
        self._interrupted = asyncio.Event()
        self._pod_slots = asyncio.Semaphore(spec.parallelism) if spec.parallelism else None
        self._version = 0
        self._change_waiter: asyncio.Future[None] | None = None
        self._listeners: list[Callable[[Node], None]] = []
        self._watchers: list[Callable[[], None]] = []
        self._cleanups: set[asyncio.Task[None]] = set()

    # ----------------------------------------------------------------- bookkeeping

    def _node_changed(self, node: Node) -> None:
        self._persister.node_changed(self.uid, node)
        self._notify()
        for listener in self._listeners:
            listener(node)

    def add_watcher(self, watcher: Callable[[], None]) -> None:
        """Called on every change of the run (nodes or status)."""
        self._watchers.append(watcher)

    def _notify(self) -> None:
        for watcher in self._watchers:
            watcher()
        self._version += 1
        if self._change_waiter is not None:
            if not self._change_waiter.done():
                self._change_waiter.set_result(None)
            self._change_waiter = None

    def add_listener(self, listener: Callable[[Node], None]) -> None:
        self._listeners.append(listener)

    async def changed(self, since: int | None = None) -> int:
        """Wait until the run changes after version ``since`` (default: from now); returns the new version.

        Every waiter is woken by the same change, and a waiter always yields to the event loop.
        """
        if since is not None and self._version > since:
            return self._version
        if self._change_waiter is None:
            self._change_waiter = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._change_waiter)
        return self._version

    def _status_changed(self) -> None:
        self._persister.status_changed(self.uid, self.status_update)
        self._notify()

    def status_update(self) -> StatusUpdate:
        return StatusUpdate(
            phase=self.phase.value,
            message=self.message,
            status=self.status_summary(),
            started_at=self.started_at,
            finished_at=self.finished_at,
        )

    def status_summary(self) -> dict[str, Any]:
        """Argo's ``status`` without ``nodes`` (those are stored per node)."""
        pods = [n for n in self.tree if n.type == NodeType.POD]
        done = sum(1 for n in pods if n.phase == NodePhase.SUCCEEDED)
        summary: dict[str, Any] = {
            **self._static_status,
            "phase": self.phase.value,
            "startedAt": format_time(self.started_at),
            "finishedAt": format_time(self.finished_at),
            "progress": f"{done}/{len(pods)}",
        }
        if self.message:
            summary["message"] = self.message
        if self.outputs:
            summary["outputs"] = self.outputs
        if self.shutdown:
            summary["shutdown"] = self.shutdown
        if self.spec.suspend:
            summary["suspended"] = True
        held = self.sync.held_by(self.uid)
        if held:
            summary["synchronization"] = {
                "holding": [{"lock": key, "holders": holders} for key, holders in sorted(held.items())]
            }
        return {k: v for k, v in summary.items() if v is not None}

    def restore(
        self,
        phase: WorkflowPhase,
        started_at: datetime | None,
        outputs: dict[str, Any],
        shutdown: str | None,
        suspended: bool,
        nodes: list[Node],
    ) -> None:
        """Adopt the state an earlier process persisted, so ``run()`` continues where it stopped."""
        self.phase = phase
        self.started_at = started_at
        self.outputs = outputs
        for param in outputs.get("parameters") or []:
            self.globals[f"workflow.outputs.parameters.{param['name']}"] = param.get("value", "")
        for art in outputs.get("artifacts") or []:
            self.globals[f"workflow.outputs.artifacts.{art['name']}"] = go_json(art)
        self.tree.load(nodes)
        if shutdown:
            self.stop(shutdown)
        if suspended:
            self.suspend()

    def reopen(self) -> None:
        """Make a finished run runnable again (retry): Running, no end, no shutdown."""
        self.phase = WorkflowPhase.RUNNING
        self.message = ""
        self.finished_at = None
        self.shutdown = None
        self.spec.shutdown = None
        self._deadline_exceeded = False
        self._interrupted = asyncio.Event()
        self._status_changed()

    def set_parameters(self, parameters: Mapping[str, str]) -> None:
        """New values for workflow parameters (``retry -p``)."""
        for name, value in parameters.items():
            self.globals[f"workflow.parameters.{name}"] = value

    def wall_time(self) -> float:
        return time.time()

    # ----------------------------------------------------------------- nodes

    def init_executable(
        self, inv: Invocation, node_type: NodeType, phase: NodePhase, template: Template, message: str = ""
    ) -> Node:
        """Create the node for an invocation, recording which template and inputs it ran with."""
        inputs = None
        if template.inputs and (template.inputs.parameters or template.inputs.artifacts):
            inputs = template.inputs.to_argo()
        ref = inv.call.template_ref.to_argo() if inv.call.template_ref else None
        display = inv.display_name or _display_annotation(template)
        node = self.tree.init_node(
            inv.node_name,
            node_type,
            phase,
            boundary_id=inv.boundary_id,
            template_name=None if ref else (template.name or inv.call.template),
            template_ref=ref,
            template_scope=inv.scope.label,
            display_name=display,
            message=message,
            inputs=inputs,
            node_flag=inv.node_flag,
        )
        self._link(inv, node)
        return node

    def _link(self, inv: Invocation, node: Node) -> None:
        for parent in inv.parents:
            self.tree.add_child(self.tree.get(parent), node)

    def error_node(
        self,
        inv: Invocation,
        message: str,
        node_type: NodeType = NodeType.SKIPPED,
        phase: NodePhase = NodePhase.ERROR,
    ) -> Node:
        """A node that could not even start (unknown template, bad arguments, shutdown)."""
        node = self.tree.by_name(inv.node_name)
        if node is None:
            node = self.tree.init_node(
                inv.node_name,
                node_type,
                phase,
                boundary_id=inv.boundary_id,
                template_name=inv.call.template,
                template_scope=inv.scope.label,
                display_name=inv.display_name,
                message=message,
                node_flag=inv.node_flag,
            )
            self._link(inv, node)
            return node
        return self.tree.mark(node, phase, message)

    # ----------------------------------------------------------------- execution

    async def execute(self, inv: Invocation) -> Node:
        """Run the template an invocation calls; returns its (fulfilled) node."""
        existing = self.tree.by_name(inv.node_name)
        if existing is not None and existing.fulfilled:
            return existing
        try:
            template, scope = self.resolver.resolve(inv.call, inv.scope)
        except TemplateNotFound as exc:
            return self.error_node(inv, str(exc))
        inv = replace(inv, scope=scope)
        retry_strategy = self.retry_strategy(template)
        variables = {**self.globals, **inv.extra_variables, "node.name": inv.node_name}
        if template.kind in ("container", "script") and retry_strategy is None:
            variables["pod.name"] = names.pod_name(self.name, inv.node_name, template.name or "")
        try:
            processed = process_template(template, inv.arguments, variables)
        except (ArgumentError, TemplateError) as exc:
            return self.error_node(inv, str(exc))
        if existing is None and self.refuses_new_work(inv.on_exit):
            node_type = NodeType.POD if template.kind in ("container", "script") else NodeType.SKIPPED
            return self.error_node(inv, self.shutdown_message(), node_type, NodePhase.FAILED)
        await self.wait_resumed(inv.on_exit)
        cached = await memoize.cached_node(self, inv, processed, retry_strategy)
        if cached is not None:
            return cached
        async with locking.node_locks(self, inv, processed, retry_strategy) as refused:
            if refused is not None:
                return refused
            if retry_strategy is not None:
                node = await retry.execute_retry(self, inv, processed, retry_strategy)
            else:
                node = await self.execute_kind(inv, processed)
        await memoize.remember(self, processed, node)
        return node

    async def execute_kind(self, inv: Invocation, template: Template) -> Node:
        """Dispatch on the template kind (after any retry wrapping)."""
        kind = template.kind
        if kind in ("container", "script"):
            return await pods.execute_pod(self, inv, template)
        if kind == "steps":
            return await steps.execute_steps(self, inv, template)
        if kind == "dag":
            return await dag.execute_dag(self, inv, template)
        if kind == "suspend":
            return await suspend.execute_suspend(self, inv, template)
        return self.error_node(
            inv, f"template '{template.name}' has no container, script, steps, dag or suspend"
        )

    def retry_strategy(self, template: Template) -> RetryStrategy | None:
        """The template's own strategy, else the workflow's (which applies to every template)."""
        return template.retry_strategy or self.spec.retry_strategy

    # ----------------------------------------------------------------- parallelism, suspend, shutdown

    @contextlib.asynccontextmanager
    async def pod_slot(self) -> AsyncIterator[None]:
        """Hold one of the workflow's ``parallelism`` slots while a step runs."""
        if self._pod_slots is None:
            yield
            return
        async with self._pod_slots:
            yield

    def refuses_new_work(self, on_exit: bool) -> bool:
        """Stop lets exit handlers run; Terminate and an exceeded deadline let nothing new start."""
        if self._deadline_exceeded:
            return not on_exit
        if self.shutdown == "Terminate":
            return True
        return self.shutdown == "Stop" and not on_exit

    def shutdown_message(self) -> str:
        """Message of a node that was not started because the workflow is stopping."""
        if self._deadline_exceeded and not self.shutdown:
            return DEADLINE_MESSAGE
        return f"workflow shutdown with strategy: {self.shutdown}"

    def kill_message(self) -> str:
        """Message of a running step killed because the workflow is stopping."""
        if self._deadline_exceeded and not self.shutdown:
            return DEADLINE_MESSAGE
        return f"workflow shutdown with strategy:  {self.shutdown}"  # two spaces, as Argo writes it

    @property
    def deadline_exceeded(self) -> bool:
        return self._deadline_exceeded

    def deadline_text(self) -> str:
        if self.started_at is None or self.spec.active_deadline_seconds is None:
            return ""
        deadline = self.started_at.timestamp() + parse_duration(self.spec.active_deadline_seconds)
        return format_time(datetime.fromtimestamp(deadline, tz=UTC)) or ""

    async def sleep(self, seconds: float) -> None:
        """Sleep, but wake early when the workflow is stopped or hits its deadline."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._interrupted.wait(), timeout=seconds)

    async def wait_resumed(self, on_exit: bool) -> None:
        if not on_exit:
            await self._resumed.wait()

    def kill_step(self, step_key: str, node: Node, reason: str) -> None:
        """Ask the executor to stop a running step; its node will carry ``reason``."""
        if step_key not in self.running_steps:
            return
        self.kill_reasons.setdefault(step_key, reason)
        task = asyncio.ensure_future(self.executor.kill(step_key, self.settings.kill_grace_seconds))
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)

    def _kill_running(self, reason: str, keep: Callable[[Node], bool] = lambda n: False) -> None:
        for step_key, node in list(self.running_steps.items()):
            if not keep(node):
                self.kill_step(step_key, node, reason)

    def stop(self, strategy: str = "Stop") -> None:
        """Argo's ``shutdown``: kill running steps; with Stop, exit handlers still run."""
        self.shutdown = strategy
        self.spec.shutdown = strategy  # type: ignore[assignment]
        self._resumed.set()
        self._interrupted.set()
        self._kill_running(self.kill_message(), keep=lambda n: strategy == "Stop" and self.in_exit_handler(n))
        for event in self._suspend_events.values():
            event.set()
        self._status_changed()

    def suspend(self) -> None:
        self._resumed.clear()
        self.spec.suspend = True
        self._status_changed()

    def in_exit_handler(self, node: Node) -> bool:
        """Whether the node belongs to an exit handler (those survive Stop and the deadline)."""
        current: Node | None = node
        while current is not None:
            if current.display_name.endswith(".onExit") or current.name.endswith(".onExit"):
                return True
            current = self.tree.nodes.get(current.boundary_id) if current.boundary_id else None
        return False

    def active_suspend_nodes(self) -> list[Node]:
        return [self.tree.get(node_id) for node_id in self._suspend_events]

    def resume(self, node_ids: set[str] | None = None, message: str = "") -> int:
        """Resume the workflow and its active suspend nodes (all, or those in ``node_ids``)."""
        self.spec.suspend = None
        self._resumed.set()
        resumed = 0
        for node_id, event in list(self._suspend_events.items()):
            if node_ids is None or node_id in node_ids:
                if message:
                    node = self.tree.get(node_id)
                    node.message = f"{node.message}; {message}" if node.message else message
                event.set()
                resumed += 1
        self._status_changed()
        return resumed

    def finish_suspend(self, node_id: str, phase: NodePhase, message: str) -> None:
        """End an active suspend node with a given phase (``node set``, ``stop --node-field-selector``)."""
        self._suspend_verdicts[node_id] = (phase, message)
        event = self._suspend_events.get(node_id)
        if event is not None:
            event.set()

    def suspend_verdict(self, node_id: str) -> tuple[NodePhase, str] | None:
        return self._suspend_verdicts.pop(node_id, None)

    def supply_outputs(self, node_id: str, values: dict[str, str]) -> None:
        """Values for a suspend node's ``valueFrom.supplied`` outputs (``node set``)."""
        node = self.tree.get(node_id)
        params = (node.outputs or {}).get("parameters") or []
        for param in params:
            if param["name"] in values:
                param["value"] = values[param["name"]]
                param.pop("valueFrom", None)
        self.tree.touch(node)
        self.publish_global_outputs(node.outputs)

    def suspend_event(self, node_id: str) -> asyncio.Event:
        return self._suspend_events.setdefault(node_id, asyncio.Event())

    def release_suspend(self, node_id: str) -> None:
        self._suspend_events.pop(node_id, None)

    # ----------------------------------------------------------------- outputs

    def publish_global_outputs(self, outputs: dict[str, Any] | None) -> None:
        """Outputs with ``globalName`` become workflow outputs and ``workflow.outputs.*`` variables
        (a parameter's value; an artifact as a whole, renamed to its global name)."""
        if not outputs:
            return
        changed = False
        for param in outputs.get("parameters") or []:
            global_name = param.get("globalName")
            if not global_name or param.get("value") is None:
                continue
            self.globals[f"workflow.outputs.parameters.{global_name}"] = param["value"]
            self._set_output("parameters", {"name": global_name, "value": param["value"]})
            changed = True
        for art in outputs.get("artifacts") or []:
            global_name = art.get("globalName")
            if not global_name:
                continue
            entry = {k: v for k, v in art.items() if k != "globalName"} | {"name": global_name}
            self.globals[f"workflow.outputs.artifacts.{global_name}"] = go_json(entry)
            self._set_output("artifacts", entry)
            changed = True
        if changed:
            self._status_changed()

    def _set_output(self, kind: str, entry: dict[str, Any]) -> None:
        items = self.outputs.setdefault(kind, [])
        existing = next((item for item in items if item["name"] == entry["name"]), None)
        if existing is None:
            items.append(entry)
        else:
            existing.clear()
            existing.update(entry)

    def schedule_cleanup(self, step_key: str) -> None:
        if self.settings.keep_step_files:
            return
        task = asyncio.ensure_future(self.executor.cleanup(step_key))
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)

    # ----------------------------------------------------------------- the run

    def _entry(self) -> Invocation:
        return Invocation(
            node_name=self.name,
            call=Call(template=self.spec.entrypoint),
            scope=self.resolver.local,
            boundary_id=None,
            arguments=self.spec.arguments,
        )

    def failures(self) -> list[dict[str, Any]]:
        """``workflow.failures``: every failed or errored node except TaskGroups, as Argo lists them."""
        out = []
        for node in self.tree:
            if node.phase.failed_or_error and node.type != NodeType.TASK_GROUP:
                entry = {
                    "displayName": node.display_name,
                    "message": node.message,
                    "templateName": node.template_name or "",
                    "phase": node.phase.value,
                    "podName": names.pod_name(self.name, node.name, node.template_name or ""),
                    "finishedAt": rfc3339(node.finished_at) if node.finished_at else None,
                }
                out.append(entry)
        return out

    def _exit_call(self) -> Call | None:
        hook = (self.spec.hooks or {}).get("exit")
        if hook is not None:
            return Call(template=hook.template, template_ref=hook.template_ref, arguments=hook.arguments)
        if self.spec.on_exit:
            return Call(template=self.spec.on_exit)
        return None

    def _start_deadline(self) -> asyncio.TimerHandle | None:
        limit = self.spec.active_deadline_seconds
        if limit is None or self.started_at is None:
            return None
        remaining = self.started_at.timestamp() + parse_duration(limit) - self.wall_time()
        return asyncio.get_running_loop().call_later(max(0.0, remaining), self._deadline_reached)

    def _deadline_reached(self) -> None:
        self._deadline_exceeded = True
        self._resumed.set()
        self._interrupted.set()
        for node_id, event in self._suspend_events.items():
            if not self.in_exit_handler(self.tree.get(node_id)):
                event.set()
        self._kill_running(DEADLINE_MESSAGE, keep=self.in_exit_handler)

    async def run(self) -> WorkflowPhase:
        """Execute (or resume) the workflow; returns its final phase."""
        if self.phase == WorkflowPhase.PENDING:
            self.phase = WorkflowPhase.RUNNING
            self.started_at = self.started_at or utcnow()
            self._status_changed()
        deadline = self._start_deadline()
        locks: list[str] = []
        try:
            locks = await self._acquire_workflow_locks()
            entry = await self._run_entry()
            exit_node = await self._run_exit_handler(entry)
            self._finish(entry, exit_node)
        except Exception as exc:  # a bug must not leave the workflow Running forever
            log.exception("workflow %s/%s failed in the controller", self.namespace, self.name)
            self._complete(WorkflowPhase.ERROR, f"controller error: {exc}")
        finally:
            if deadline is not None:
                deadline.cancel()
            for key in locks:
                self.sync.release(key, self.uid)
        if self._cleanups:
            await asyncio.gather(*list(self._cleanups), return_exceptions=True)
        await self._persister.flush()
        return self.phase

    async def _acquire_workflow_locks(self) -> list[str]:
        """``spec.synchronization``: the whole workflow waits (Pending) until it holds its locks."""
        if self.spec.synchronization is None:
            return []
        acquired = []
        for key in lock_keys(self.spec.synchronization, self.namespace):
            if not self.sync.try_acquire(key, self.uid):
                previous, self.phase = self.phase, WorkflowPhase.PENDING
                self.message = waiting_message(self, key)
                self._status_changed()
                await self.sync.acquire(key, self.uid)
                self.phase, self.message = previous, ""
                self._status_changed()
            acquired.append(key)
        return acquired

    async def _run_entry(self) -> Node:
        """The entrypoint, alongside the workflow's lifecycle hooks (``spec.hooks`` other than exit)."""
        hooks = lifecycle_hooks(self.spec.hooks)
        if not hooks:
            return await self.execute(self._entry())
        entry = asyncio.ensure_future(self.execute(self._entry()))

        def root_id() -> str | None:
            root = self.tree.by_name(self.name)
            return root.id if root else None

        await asyncio.gather(
            entry,
            watch_hooks(
                self,
                self.name,
                hooks,
                lambda: workflow_environment(self),
                entry.done,
                scope=self.resolver.local,
                boundary_id=None,
                parent_id=root_id,
                arguments=self.spec.arguments,
            ),
        )
        return entry.result()

    async def _run_exit_handler(self, entry: Node) -> Node | None:
        call = self._exit_call()
        if call is None or self.shutdown == "Terminate":
            return None
        self.globals["workflow.status"] = _workflow_phase_for(entry).value
        failures = self.failures()
        # Argo stores the list Go-quoted so that it survives substitution into JSON and scripts.
        encoded = json.dumps(failures, separators=(",", ":"), ensure_ascii=False) if failures else "null"
        self.globals["workflow.failures"] = json.dumps(encoded)
        self.globals["workflow.duration"] = f"{(utcnow() - (self.started_at or utcnow())).total_seconds():f}"
        inv = Invocation(
            node_name=names.exit_handler_name(self.name),
            call=call,
            scope=self.resolver.local,
            boundary_id=None,
            arguments=call.arguments if call.arguments and call.arguments.parameters else self.spec.arguments,
            on_exit=True,
            display_name=names.exit_handler_name(self.name),
            node_flag={"hooked": True},
        )
        return await self.execute(inv)

    def _finish(self, entry: Node, exit_node: Node | None) -> None:
        phase = _workflow_phase_for(entry)
        message = entry.message if phase != WorkflowPhase.SUCCEEDED else ""
        if self.shutdown and phase != WorkflowPhase.SUCCEEDED:
            message = f"Stopped with strategy '{self.shutdown}'"
        elif phase == WorkflowPhase.SUCCEEDED and exit_node is not None and exit_node.phase.failed_or_error:
            phase = WorkflowPhase.FAILED if exit_node.phase == NodePhase.FAILED else WorkflowPhase.ERROR
            message = exit_node.message
        self._complete(phase, message)

    def _complete(self, phase: WorkflowPhase, message: str) -> None:
        self.phase = phase
        self.message = message
        self.finished_at = utcnow()
        self._status_changed()


def _workflow_phase_for(entry: Node) -> WorkflowPhase:
    if entry.phase == NodePhase.SUCCEEDED:
        return WorkflowPhase.SUCCEEDED
    if entry.phase == NodePhase.ERROR:
        return WorkflowPhase.ERROR
    if entry.phase in (NodePhase.SKIPPED, NodePhase.OMITTED):
        return WorkflowPhase.SUCCEEDED
    return WorkflowPhase.FAILED


def _display_annotation(template: Template) -> str | None:
    return (template.annotations or {}).get("workflows.argoproj.io/display-name")
