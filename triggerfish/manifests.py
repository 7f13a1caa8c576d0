"""``apply`` for every manifest kind the hub knows, and loading a directory of them at start-up.

Each kind has a handler that validates a document (naming the field when it is wrong) and, once
the manifest is stored, activates it: an EventSource starts serving, a Sensor starts consuming, a
CronWorkflow starts its schedule. Applying a changed manifest replaces the running one in place.
Workflows are not stored as manifests: applying one submits a run.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from triggerfish.store.resources import CLUSTER_SCOPE, ResourceStore
from workflow_runtime.spec.errors import Issue, ManifestError
from workflow_runtime.spec.loader import parse_documents

log = logging.getLogger(__name__)

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")

Action = Literal["created", "configured", "unchanged", "submitted", "deleted"]


@dataclass(frozen=True)
class KindHandler:
    kind: str
    load: Callable[[dict[str, Any]], Any]
    """Validate a document into its model; raises ManifestError."""
    activate: Callable[[Any, str], Awaitable[list[str]]] | None = None
    """Start or replace what the manifest describes; returns warnings."""
    deactivate: Callable[[str, str], Awaitable[None]] | None = None
    cluster_scoped: bool = False


@dataclass(frozen=True)
class Applied:
    kind: str
    namespace: str
    name: str
    action: Action
    warnings: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        scope = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind.lower()}/{scope}{self.name} {self.action}"


SubmitWorkflow = Callable[[dict[str, Any], str], Awaitable[str]]


class ManifestRegistry:
    def __init__(self, resources: ResourceStore, submit: SubmitWorkflow, default_namespace: str) -> None:
        self._resources = resources
        self._submit = submit
        self._namespace = default_namespace
        self._handlers: dict[str, KindHandler] = {}

    def register(self, handler: KindHandler) -> None:
        self._handlers[handler.kind] = handler

    @property
    def kinds(self) -> list[str]:
        return ["Workflow", *self._handlers]

    def _handler(self, doc: dict[str, Any], source: str) -> KindHandler | None:
        kind = doc.get("kind")
        if kind == "Workflow":
            return None
        handler = self._handlers.get(str(kind))
        if handler is None:
            issue = Issue("kind", f"unsupported kind {kind!r}; expected one of {', '.join(self.kinds)}")
            raise ManifestError([issue], source)
        return handler

    def scope_of(self, doc: dict[str, Any], namespace: str | None = None) -> str:
        """Where ``apply`` will put the manifest: its namespace, or CLUSTER_SCOPE. A Workflow goes
        to ``namespace`` first (the caller's choice); other kinds keep the one they name."""
        handler = self._handler(doc, "")
        named = (doc.get("metadata") or {}).get("namespace")
        if handler is None:
            return str(namespace or named or self._namespace)
        if handler.cluster_scoped:
            return CLUSTER_SCOPE
        return str(named or namespace or self._namespace)

    def cluster_scoped(self, kind: str) -> bool:
        handler = self._handlers.get(kind)
        return handler is not None and handler.cluster_scoped

    def validate(self, doc: dict[str, Any], source: str = "") -> Any:
        """Check a manifest of a stored kind without storing or activating it (``lint``); returns its
        model. Raises ManifestError naming the field."""
        handler = self._handler(doc, source)
        if handler is None:
            raise ManifestError([Issue("kind", "a Workflow is submitted, not stored")], source)
        return handler.load(doc)

    async def apply(self, doc: dict[str, Any], *, namespace: str | None = None, source: str = "") -> Applied:
        """Validate, store and activate one manifest; a Workflow is submitted as a new run."""
        handler = self._handler(doc, source)
        scope = self.scope_of(doc, namespace)
        if handler is None:
            return Applied("Workflow", scope, await self._submit(doc, scope), "submitted")
        model = handler.load(doc)
        name = str(model.metadata.name or "")
        if not name:
            raise ManifestError([Issue("metadata.name", "required field is missing")], source)
        manifest = model.to_argo() if hasattr(model, "to_argo") else doc
        previous = await self._resources.get(handler.kind, scope, name)
        if previous is not None and previous.manifest == manifest:
            return Applied(handler.kind, scope, name, "unchanged")
        warnings = await handler.activate(model, scope) if handler.activate else []
        await self._resources.put(handler.kind, scope, name, manifest)
        return Applied(handler.kind, scope, name, "configured" if previous else "created", warnings)

    async def apply_text(self, text: str, *, namespace: str | None = None, source: str = "") -> list[Applied]:
        return [
            await self.apply(doc, namespace=namespace, source=source) for doc in parse_documents(text, source)
        ]

    async def delete(self, kind: str, namespace: str, name: str) -> bool:
        handler = self._handlers.get(kind)
        if handler is None:
            raise ManifestError([Issue("kind", f"unsupported kind {kind!r}")])
        scope = CLUSTER_SCOPE if handler.cluster_scoped else namespace
        if handler.deactivate is not None:
            await handler.deactivate(scope, name)
        return await self._resources.delete(kind, scope, name)

    async def restore(self) -> list[str]:
        """Activate every stored manifest (hub start-up); returns the problems, each by manifest."""
        problems = []
        for kind, handler in self._handlers.items():
            if handler.activate is None:
                continue
            for resource in await self._resources.list(kind):
                try:
                    model = handler.load(resource.manifest)
                    await handler.activate(model, resource.namespace)
                except Exception as exc:  # one broken manifest must not keep the others down
                    problems.append(f"{kind}/{resource.namespace}/{resource.name}: {exc}")
                    log.error("cannot restore %s/%s/%s: %s", kind, resource.namespace, resource.name, exc)
        return problems


@dataclass
class LoadReport:
    applied: list[Applied] = field(default_factory=list)
    workflows: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def load_directory(registry: ManifestRegistry, directory: Path) -> LoadReport:
    """Apply every manifest found under ``directory`` except Workflows, which are only listed (they
    run when submitted). A broken file is reported by name and never stops the others."""
    report = LoadReport()
    for path in sorted(p for p in directory.rglob("*") if p.suffix in MANIFEST_SUFFIXES and p.is_file()):
        try:
            for doc in parse_documents(path.read_text(), str(path)):
                if doc.get("kind") == "Workflow":
                    report.workflows.append(path)
                    continue
                report.applied.append(await registry.apply(doc, source=str(path)))
        except Exception as exc:
            report.errors.append(f"{path}: {exc}")
            log.error("skipping %s: %s", path, exc)
    return report
