"""The workflow controller: accepts workflows, runs each as a :class:`WorkflowRun`, resumes the
unfinished ones after a restart, and carries lifecycle commands (stop, suspend, resume…) to them."""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from triggerfish.store.memo import MemoStore
from triggerfish.store.resources import CLUSTER_SCOPE, ResourceStore
from triggerfish.store.workflows import EventLink, WorkflowRecord, WorkflowStore
from workflow_runtime.controller import names
from workflow_runtime.controller.lifecycle import memoized_nodes, reopen, retry_plan
from workflow_runtime.controller.ownership import Ownership
from workflow_runtime.controller.persistence import Persister
from workflow_runtime.controller.run import RunSettings, WorkflowRun
from workflow_runtime.controller.selectors import SelectorError, parse_node_selector, select_nodes
from workflow_runtime.controller.sync import SyncManager
from workflow_runtime.controller.templates import TemplateResolver, TemplateScope, stored_key, template_map
from workflow_runtime.executors.base import Executor
from workflow_runtime.spec.common import Arguments, Parameter, TemplateRef
from workflow_runtime.spec.errors import Issue, ManifestError
from workflow_runtime.spec.loader import load_workflow
from workflow_runtime.spec.template import Template
from workflow_runtime.spec.workflow import Workflow, WorkflowSpec
from workflow_runtime.state import Node, NodePhase, NodeType, WorkflowPhase, parse_time, utcnow
from workflow_runtime.validation import validate_workflow

log = logging.getLogger(__name__)

KEEP_FINISHED_RUNS = 256
"""Finished runs kept in memory for quick reads; older ones are read from the store."""

_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' generateName alphabet (no vowels)


RESUBMITTED_LABEL = "workflows.argoproj.io/resubmitted-from-workflow"


def _check_supplied(node: Node, values: Mapping[str, str]) -> None:
    """Argo's checks for ``node set --output-parameter``."""
    params = {p["name"]: p for p in (node.outputs or {}).get("parameters") or []}
    if not params:
        raise InvalidOperation(
            "cannot set output parameters because node is not expecting any raw parameters"
        )
    for name in values:
        if name not in params:
            raise InvalidOperation(f"node is not expecting output parameter '{name}'")
        if "supplied" not in (params[name].get("valueFrom") or {}):
            reason = "it does not use valueFrom.raw or it was already set"
            raise InvalidOperation(f"cannot set output parameter '{name}' because {reason}")


class WorkflowNotFound(LookupError):
    pass


class InvalidOperation(ValueError):
    """A lifecycle command that does not apply (e.g. stopping a finished workflow)."""


@dataclass(frozen=True, slots=True)
class SubmitOptions:
    namespace: str = "default"
    parameters: Mapping[str, str] | None = None
    entrypoint: str | None = None
    labels: Mapping[str, str] | None = None
    name: str | None = None
    uid: str | None = None
    """A caller-chosen UID makes submission idempotent (a second submit raises AlreadyExists)."""
    caused_by: Sequence[EventLink] = ()
    """The events behind the run (lineage), stored with it."""


_NAMES = random.Random()
"""Seeded from the OS once: ``secrets`` read the OS's randomness for every character."""


def generate_name(prefix: str) -> str:
    return prefix + "".join(_NAMES.choices(_NAME_ALPHABET, k=5))


def _with_parameters(spec: WorkflowSpec, parameters: Mapping[str, str]) -> WorkflowSpec:
    """``-p name=value``: replace an argument of that name or add it."""
    args = spec.arguments.model_copy() if spec.arguments else None
    current = list(args.parameters or []) if args else []
    for name, value in parameters.items():
        index = next((i for i, p in enumerate(current) if p.name == name), None)
        if index is None:
            current.append(Parameter(name=name, value=value))
        else:
            current[index] = current[index].model_copy(update={"value": value, "value_from": None})
    return spec.model_copy(
        update={"arguments": (args or Arguments()).model_copy(update={"parameters": current})}
    )


def _merge_specs(workflow: WorkflowSpec, template: WorkflowSpec) -> WorkflowSpec:
    """``workflowTemplateRef``: Workflow fields win over the WorkflowTemplate's; arguments merge by name."""
    merged = {
        **template.to_argo(),
        **{k: v for k, v in workflow.to_argo().items() if k != "workflowTemplateRef"},
    }
    wf_params = {p.name: p for p in (workflow.arguments.parameters or [])} if workflow.arguments else {}
    tmpl_params = (template.arguments.parameters or []) if template.arguments else []
    params = [wf_params.pop(p.name, p) for p in tmpl_params] + list(wf_params.values())
    if params:
        merged["arguments"] = {**merged.get("arguments", {}), "parameters": [p.to_argo() for p in params]}
    return WorkflowSpec.model_validate(merged)


def _template_refs(templates: list[Template]) -> set[tuple[str, str]]:
    refs: set[tuple[str, str]] = set()

    def add(ref: TemplateRef | None) -> None:
        if ref is not None:
            refs.add(stored_key(ref))

    for template in templates:
        for group in template.steps or []:
            for step in group:
                add(step.template_ref)
                for hook in (step.hooks or {}).values():
                    add(hook.template_ref)
        for task in template.dag.tasks if template.dag else []:
            add(task.template_ref)
            for hook in (task.hooks or {}).values():
                add(hook.template_ref)
    return refs


class Controller:
    def __init__(
        self,
        workflows: WorkflowStore,
        resources: ResourceStore,
        executor: Executor,
        settings: RunSettings | None = None,
        memo: MemoStore | None = None,
        sync: SyncManager | None = None,
    ) -> None:
        self.workflows = workflows
        self.resources = resources
        self.executor = executor
        self.settings = settings or RunSettings()
        self.memo = memo
        self.sync = sync or SyncManager()
        self.ownership: Ownership | None = None
        """Scale-out only: leases that decide which replica drives which run (see .ownership)."""
        self.persister = Persister(workflows)
        self.runs: dict[str, WorkflowRun] = {}
        """Runs in progress, and the most recent finished ones."""
        self._recent: deque[str] = deque()
        self._tasks: dict[str, asyncio.Task[WorkflowPhase]] = {}
        self._listeners: list[Callable[[str], None]] = []
        self._started = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> int:
        """Start persisting and resume every workflow an earlier process left unfinished."""
        self.persister.start()
        self._started = True
        resumed = 0
        owned = self.ownership.claim_unfinished() if self.ownership else self.workflows.unfinished()
        for record in await owned:
            try:
                run = await self._restore(record)
            except Exception:
                log.exception("cannot resume workflow %s/%s", record.namespace, record.name)
                continue
            self._launch(run)
            resumed += 1
        if resumed:
            log.info("resumed %d workflow(s) interrupted earlier", resumed)
        if self.ownership:
            self.ownership.start(self)
        return resumed

    async def close(self) -> None:
        """Stop driving workflows. Running steps keep running and are reattached on the next start."""
        if self.ownership:
            await self.ownership.close()
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()
        await self.persister.close()
        await self.executor.close()

    # ------------------------------------------------------------------ submission

    async def stored_specs(
        self, namespace: str, refs: set[tuple[str, str]]
    ) -> dict[tuple[str, str], WorkflowSpec]:
        """Fetch the (Cluster)WorkflowTemplates ``refs`` name, following their own templateRefs."""
        found: dict[tuple[str, str], WorkflowSpec] = {}
        pending = set(refs)
        while pending:
            key = pending.pop()
            if key in found:
                continue
            kind = "ClusterWorkflowTemplate" if key[0] == "cluster" else "WorkflowTemplate"
            resource = await self.resources.get(
                kind, CLUSTER_SCOPE if key[0] == "cluster" else namespace, key[1]
            )
            if resource is None:
                continue
            spec = WorkflowSpec.model_validate(resource.manifest.get("spec") or {})
            found[key] = spec
            pending |= _template_refs(spec.templates or []) - found.keys()
        return found

    async def prepare(
        self, workflow: Workflow, options: SubmitOptions
    ) -> tuple[Workflow, WorkflowSpec, dict[tuple[str, str], WorkflowSpec]]:
        """Name the workflow, apply options, resolve references and validate. Raises ManifestError."""
        metadata = workflow.metadata.model_copy()
        metadata.namespace = metadata.namespace or options.namespace
        if options.name:
            metadata.name = options.name
        if not metadata.name:
            if not metadata.generate_name:
                raise ManifestError([Issue("metadata", "name or generateName is required")])
            metadata.name = generate_name(metadata.generate_name)
        if options.labels:
            metadata.labels = {**(metadata.labels or {}), **options.labels}
        spec = workflow.spec
        if options.entrypoint:
            spec = spec.model_copy(update={"entrypoint": options.entrypoint})
        if options.parameters:
            spec = _with_parameters(spec, options.parameters)
        workflow = workflow.model_copy(update={"metadata": metadata, "spec": spec})
        effective = spec
        refs = _template_refs(spec.templates or [])
        if spec.workflow_template_ref is not None:
            refs.add(
                stored_key(
                    TemplateRef(
                        name=spec.workflow_template_ref.name,
                        template="",
                        cluster_scope=spec.workflow_template_ref.cluster_scope,
                    )
                )
            )
        stored = await self.stored_specs(metadata.namespace, refs)
        issues = validate_workflow(workflow, stored=stored)
        if issues:
            raise ManifestError(issues)
        if spec.workflow_template_ref is not None:
            ref = spec.workflow_template_ref
            effective = _merge_specs(
                spec, stored[("cluster" if ref.cluster_scope else "namespaced", ref.name)]
            )
        return workflow, effective, stored

    async def submit(
        self,
        workflow: Workflow | dict[str, Any],
        options: SubmitOptions | None = None,
        adopt: Callable[[str], list[Node]] | None = None,
    ) -> WorkflowRecord:
        """Validate, store and start a workflow. Raises ManifestError naming what is wrong."""
        options = options or SubmitOptions()
        if isinstance(workflow, dict):
            workflow = load_workflow(workflow)
        workflow, effective, stored = await self.prepare(workflow, options)
        created = utcnow()
        uid = options.uid or str(uuid.uuid4())
        metadata = workflow.metadata.model_copy(
            update={"uid": uid, "creation_timestamp": created.strftime("%Y-%m-%dT%H:%M:%SZ")}
        )
        workflow = workflow.model_copy(update={"metadata": metadata})
        static = self._static_status(workflow, effective, stored)
        record = WorkflowRecord(
            uid=uid,
            namespace=metadata.namespace or options.namespace,
            name=metadata.name or "",
            manifest=workflow.to_argo(),
            labels=dict(metadata.labels or {}),
            phase=WorkflowPhase.PENDING.value,
            status={"phase": "Pending", **static},
            created_at=created,
        )
        await self.workflows.create(record, options.caused_by)
        run = self._build_run(workflow, effective, stored, uid, created, static)
        if adopt is not None:  # memoized resubmit: start from an earlier run's successful nodes
            adopted = adopt(record.name)
            run.tree.load(adopted)
            for node in adopted:
                self.persister.node_changed(uid, node)
        self._launch(run)
        return record

    @staticmethod
    def _static_status(
        workflow: Workflow, effective: WorkflowSpec, stored: Mapping[tuple[str, str], WorkflowSpec]
    ) -> dict[str, Any]:
        """Status fields fixed at submission: what a resumed run needs, independent of later edits."""
        static: dict[str, Any] = {}
        if stored:
            static["storedTemplates"] = {
                f"{kind}/{name}/{t.name}": t.to_argo()
                for (kind, name), spec in stored.items()
                for t in spec.templates or []
            }
        if workflow.spec.workflow_template_ref is not None:
            static["storedWorkflowTemplateSpec"] = effective.to_argo()
        return static

    def _build_run(
        self,
        workflow: Workflow,
        effective: WorkflowSpec,
        stored: Mapping[tuple[str, str], WorkflowSpec],
        uid: str,
        created: datetime,
        static: dict[str, Any],
    ) -> WorkflowRun:
        local = TemplateScope("local", workflow.metadata.name or "", template_map(effective))
        resolver = TemplateResolver(local, stored, effective.template_defaults)
        return WorkflowRun(
            workflow,
            effective,
            uid,
            created,
            resolver,
            self.executor,
            self.persister,
            self.settings,
            static_status=static,
            memo=self.memo,
            sync=self.sync,
        )

    async def _restore(self, record: WorkflowRecord) -> WorkflowRun:
        workflow = Workflow.model_validate(record.manifest)
        status = record.status
        effective = workflow.spec
        if status.get("storedWorkflowTemplateSpec"):
            effective = WorkflowSpec.model_validate(status["storedWorkflowTemplateSpec"])
        stored: dict[tuple[str, str], WorkflowSpec] = {}
        for key, template in (status.get("storedTemplates") or {}).items():
            kind, name, _ = key.split("/", 2)
            spec = stored.setdefault((kind, name), WorkflowSpec(templates=[]))
            assert spec.templates is not None
            spec.templates.append(Template.model_validate(template))
        static: dict[str, Any] = {
            k: status[k] for k in ("storedTemplates", "storedWorkflowTemplateSpec") if k in status
        }
        run = self._build_run(workflow, effective, stored, record.uid, record.created_at, static)
        run.restore(
            phase=WorkflowPhase(record.phase),
            started_at=record.started_at or parse_time(status.get("startedAt")),
            outputs=status.get("outputs") or {},
            shutdown=status.get("shutdown"),
            suspended=bool(status.get("suspended")),
            nodes=[Node.from_json(n) for n in await self.workflows.load_nodes(record.uid)],
        )
        return run

    def add_listener(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(uid)`` whenever a workflow is created or changes (for watch streams)."""
        self._listeners.append(listener)

    def _changed(self, uid: str) -> None:
        for listener in self._listeners:
            listener(uid)

    def _launch(self, run: WorkflowRun) -> None:
        self.runs[run.uid] = run
        run.add_watcher(lambda: self._changed(run.uid))
        self._changed(run.uid)
        task = asyncio.create_task(run.run(), name=f"workflow {run.namespace}/{run.name}")
        self._tasks[run.uid] = task
        task.add_done_callback(lambda _: self._finished(run.uid))
        if self.ownership:
            self.ownership.track(run.uid, task)

    def _finished(self, uid: str) -> None:
        """Keep a finished run in memory only among the most recent few (the store has it all)."""
        self._tasks.pop(uid, None)
        self._recent.append(uid)
        while len(self._recent) > KEEP_FINISHED_RUNS:
            old = self._recent.popleft()
            if old not in self._tasks and old not in self._recent:
                self.runs.pop(old, None)

    def load(self) -> tuple[int, int]:
        """(runs in progress, their nodes waiting to start), for the metrics gauges."""
        active = [self.runs[uid] for uid in self._tasks if uid in self.runs]
        waiting = sum(run.tree.pending_count() for run in active)
        return len(active), waiting

    # ------------------------------------------------------------------ queries and commands

    async def wait(self, uid: str) -> WorkflowPhase:
        """Wait until the workflow completes; returns its phase."""
        task = self._tasks.get(uid)
        if task is not None:
            return await asyncio.shield(task)
        record = await self.workflows.get_by_uid(uid)
        if record is None:
            raise WorkflowNotFound(uid)
        return WorkflowPhase(record.phase)

    def active(self, uid: str) -> WorkflowRun:
        run = self.runs.get(uid)
        if run is None or uid not in self._tasks:
            raise InvalidOperation("workflow is not running in this hub")
        return run

    def stop(self, uid: str, strategy: str = "Stop") -> None:
        self.active(uid).stop(strategy)

    def suspend(self, uid: str) -> None:
        self.active(uid).suspend()

    def resume(
        self,
        uid: str,
        node_ids: set[str] | None = None,
        message: str = "",
        node_field_selector: str | None = None,
    ) -> int:
        """Resume the workflow (all active suspend nodes, or those the selector picks)."""
        run = self.active(uid)
        if node_field_selector:
            node_ids = self._selected_suspend_nodes(run, node_field_selector)
        return run.resume(node_ids, message)

    def stop_nodes(self, uid: str, node_field_selector: str, message: str = "") -> int:
        """``argo stop --node-field-selector``: fail the active suspend nodes the selector picks."""
        run = self.active(uid)
        selected = self._selected_suspend_nodes(run, node_field_selector)
        for node_id in selected:
            run.finish_suspend(node_id, NodePhase.FAILED, message)
        return len(selected)

    def set_nodes(
        self,
        uid: str,
        *,
        node_field_selector: str,
        phase: str | None = None,
        message: str | None = None,
        output_parameters: Mapping[str, str] | None = None,
    ) -> int:
        """``argo node set``: give active suspend nodes their supplied outputs, and optionally end them."""
        run = self.active(uid)
        selected = self._selected_suspend_nodes(run, node_field_selector)
        for node_id in selected:
            if output_parameters:
                _check_supplied(run.tree.get(node_id), output_parameters)
                run.supply_outputs(node_id, dict(output_parameters))
            if phase is not None:
                run.finish_suspend(node_id, NodePhase(phase), message or "")
            elif message is not None:
                node = run.tree.get(node_id)
                node.message = message
                run.tree.touch(node)
        return len(selected)

    @staticmethod
    def _selected_suspend_nodes(run: WorkflowRun, selector: str) -> set[str]:
        try:
            selected = select_nodes(run.active_suspend_nodes(), selector)
        except SelectorError as exc:
            raise InvalidOperation(str(exc)) from exc
        if not selected:
            prefix = "currently, set only targets suspend nodes"
            raise InvalidOperation(f"{prefix}: no suspend nodes matching nodeFieldSelector: {selector}")
        return selected

    async def _finished_run(self, uid: str, operation: str) -> WorkflowRun:
        record = await self.workflows.get_by_uid(uid)
        if record is None:
            raise WorkflowNotFound(uid)
        if uid in self._tasks or record.phase not in ("Failed", "Error"):
            raise InvalidOperation(f"workflow must be Failed/Error to {operation}")
        return await self._restore(record)

    async def retry(
        self,
        uid: str,
        *,
        node_field_selector: str | None = None,
        restart_successful: bool = False,
        parameters: Mapping[str, str] | None = None,
    ) -> WorkflowRecord:
        """Run a Failed/Error workflow again from where it failed (see :mod:`.lifecycle`)."""
        run = await self._finished_run(uid, "retry")
        if self.ownership and (holder := await self.ownership.claim(uid)):
            raise InvalidOperation(f"workflow is driven by hub replica {holder}")
        restart = None
        if restart_successful and node_field_selector:
            try:
                restart = parse_node_selector(node_field_selector)
            except SelectorError as exc:
                raise InvalidOperation(str(exc)) from exc
        plan = retry_plan(run.tree.nodes, run.name, restart)
        for node_id in plan.remove:
            node = run.tree.get(node_id)
            if node.type == NodeType.POD:
                template = node.template_name or (node.template_ref or {}).get("template", "")
                await self.executor.discard(f"{uid}/{names.pod_name(run.name, node.name, template)}")
        await self.workflows.delete_nodes(uid, list(plan.remove))
        run.tree.remove(plan.remove)
        for node_id in plan.reopen:
            run.tree.replace(reopen(run.tree.get(node_id)))
        if parameters:
            run.set_parameters(parameters)
        run.reopen()
        self._launch(run)
        await self.persister.flush()
        updated = await self.workflows.get_by_uid(uid)
        assert updated is not None
        return updated

    async def resubmit(
        self, uid: str, *, memoized: bool = False, parameters: Mapping[str, str] | None = None
    ) -> WorkflowRecord:
        """A new workflow from an old one's manifest; ``memoized`` reuses its successful nodes."""
        old = await self.workflows.get_by_uid(uid)
        if old is None:
            raise WorkflowNotFound(uid)
        if memoized and old.phase not in ("Failed", "Error"):
            raise InvalidOperation("workflow must be Failed/Error to resubmit in memoized mode")
        workflow = Workflow.model_validate(old.manifest)
        metadata = workflow.metadata.model_copy(
            update={
                "name": None,
                "uid": None,
                "creation_timestamp": None,
                "generate_name": workflow.metadata.generate_name or f"{old.name}-",
                "labels": {**(workflow.metadata.labels or {}), RESUBMITTED_LABEL: old.name},
            }
        )
        options = SubmitOptions(namespace=old.namespace, parameters=parameters)
        if not memoized:
            return await self.submit(workflow.model_copy(update={"metadata": metadata}), options)
        previous = [Node.from_json(n) for n in await self.workflows.load_nodes(uid)]
        return await self.submit(
            workflow.model_copy(update={"metadata": metadata}),
            options,
            adopt=lambda new_name: memoized_nodes({n.id: n for n in previous}, old.name, new_name),
        )
