"""Create, get, list, update, delete and lint of the stored manifest kinds (WorkflowTemplate,
ClusterWorkflowTemplate, CronWorkflow, EventSource, Sensor) as Argo Server serves them.

Writes go through the hub's manifest registry (validation naming the field, then activation: a
changed Sensor is replaced in place, a CronWorkflow reschedules…); reads come from the resource
store. Documents carry the Kubernetes metadata clients expect (``uid``, ``resourceVersion``,
``creationTimestamp``); ``resourceVersion`` on an update must match the stored one when given.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from triggerfish.api.common import ListQuery, already_exists, not_found, with_header
from triggerfish.api.errors import ApiError
from triggerfish.hub import Hub
from triggerfish.store.resources import CLUSTER_SCOPE, Resource
from workflow_runtime.controller.controller import generate_name

SERVER_FIELDS = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink")


@dataclass(frozen=True, slots=True)
class ResourceKind:
    kind: str
    plural: str
    """Kubernetes' resource name, as in ``workflowtemplates.argoproj.io "x" not found``."""
    cluster_scoped: bool = False

    def scope(self, namespace: str) -> str:
        return CLUSTER_SCOPE if self.cluster_scoped else namespace


WORKFLOW_TEMPLATE = ResourceKind("WorkflowTemplate", "workflowtemplates")
CLUSTER_WORKFLOW_TEMPLATE = ResourceKind("ClusterWorkflowTemplate", "clusterworkflowtemplates", True)
CRON_WORKFLOW = ResourceKind("CronWorkflow", "cronworkflows")
EVENT_SOURCE = ResourceKind("EventSource", "eventsources")
SENSOR = ResourceKind("Sensor", "sensors")


def _timestamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def document(resource: Resource) -> dict[str, Any]:
    """The stored manifest with the metadata the server owns."""
    body = dict(resource.manifest)
    metadata = dict(body.get("metadata") or {})
    metadata["name"] = resource.name
    if resource.namespace:
        metadata["namespace"] = resource.namespace
    else:
        metadata.pop("namespace", None)
    identity = f"{resource.kind}/{resource.namespace}/{resource.name}/{resource.created_at.isoformat()}"
    metadata.update(
        uid=str(uuid.uuid5(uuid.NAMESPACE_URL, identity)),
        resourceVersion=str(resource.version),
        generation=resource.version,
        creationTimestamp=_timestamp(resource.created_at),
    )
    body["metadata"] = metadata
    return body


def _prepared(
    kind: ResourceKind, namespace: str, doc: dict[str, Any], name: str | None = None
) -> dict[str, Any]:
    """The manifest to apply: kind header filled in, the path's namespace (and name), no status and
    no server-owned metadata. 400 naming the field when the document contradicts the path."""
    manifest = with_header({k: v for k, v in doc.items() if k != "status"}, kind.kind)
    if manifest["kind"] != kind.kind:
        raise ApiError(400, f"kind: expected {kind.kind}, got {manifest['kind']!r}")
    metadata = manifest.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise ApiError(400, "metadata: expected an object")
    metadata = {k: v for k, v in metadata.items() if k not in SERVER_FIELDS}
    if name is not None:
        if metadata.setdefault("name", name) != name:
            raise ApiError(400, f"metadata.name: {metadata['name']!r} does not match {name!r} in the path")
    elif not metadata.get("name") and isinstance(metadata.get("generateName"), str):
        metadata["name"] = generate_name(metadata["generateName"])
    if not metadata.get("name") or not isinstance(metadata["name"], str):
        raise ApiError(400, "metadata.name: required")
    if kind.cluster_scoped:
        metadata.pop("namespace", None)
    else:
        metadata["namespace"] = namespace
    manifest["metadata"] = metadata
    return manifest


async def _stored(hub: Hub, kind: ResourceKind, namespace: str, name: str) -> Resource:
    resource = await hub.resources.get(kind.kind, kind.scope(namespace), name)
    if resource is None:
        raise not_found(kind.plural, name)
    return resource


async def get(hub: Hub, kind: ResourceKind, namespace: str, name: str) -> dict[str, Any]:
    return document(await _stored(hub, kind, namespace, name))


async def list_documents(hub: Hub, kind: ResourceKind, namespace: str) -> list[dict[str, Any]]:
    return [document(r) for r in await hub.resources.list(kind.kind, kind.scope(namespace))]


async def page(hub: Hub, kind: ResourceKind, namespace: str, query: ListQuery) -> dict[str, Any]:
    return query.page(await list_documents(hub, kind, namespace))


async def create(hub: Hub, kind: ResourceKind, namespace: str, doc: dict[str, Any]) -> dict[str, Any]:
    """409 if the name is taken; otherwise validate, store and activate."""
    manifest = _prepared(kind, namespace, doc)
    name = manifest["metadata"]["name"]
    if await hub.resources.get(kind.kind, kind.scope(namespace), name) is not None:
        raise already_exists(kind.plural, name)
    await hub.manifests.apply(manifest, namespace=namespace)
    return await get(hub, kind, namespace, name)


async def update(
    hub: Hub, kind: ResourceKind, namespace: str, name: str, doc: dict[str, Any]
) -> dict[str, Any]:
    """Replace an existing manifest (404 if there is none; 409 if ``resourceVersion`` is stale)."""
    current = await _stored(hub, kind, namespace, name)
    expected = (
        (doc.get("metadata") or {}).get("resourceVersion") if isinstance(doc.get("metadata"), dict) else None
    )
    if expected and str(expected) != str(current.version):
        raise ApiError(
            409,
            f'Operation cannot be fulfilled on {kind.plural}.argoproj.io "{name}": the object has been '
            "modified; please apply your changes to the latest version and try again",
        )
    await hub.manifests.apply(_prepared(kind, namespace, doc, name), namespace=namespace)
    return await get(hub, kind, namespace, name)


async def delete(hub: Hub, kind: ResourceKind, namespace: str, name: str) -> dict[str, Any]:
    await _stored(hub, kind, namespace, name)
    await hub.manifests.delete(kind.kind, kind.scope(namespace), name)
    return {}


def lint(hub: Hub, kind: ResourceKind, namespace: str, doc: dict[str, Any]) -> dict[str, Any]:
    """Validate without storing; returns the manifest as it would be stored (400 with details if not)."""
    model = hub.manifests.validate(_prepared(kind, namespace, doc))
    linted: dict[str, Any] = model.to_argo()
    return linted
