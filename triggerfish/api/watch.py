"""``GET /api/v1/workflow-events/{namespace}``: Argo's WatchWorkflows as Server-Sent Events,
``data: {"result": {"type": "ADDED"|"MODIFIED"|"DELETED", "object": <workflow>}}``.

Event-driven, nothing polls: a hub-wide :class:`WorkflowBroker` registers with
``Controller.add_listener`` (called with a workflow's uid whenever the controller creates, resumes
or changes a run) and with the API's delete, and fans each uid out to the open watch streams. A
stream first sends ``ADDED`` for every workflow that matches (skipped when
``listOptions.resourceVersion`` is given, as after a list), then ``MODIFIED`` whenever a matching
workflow's document changed, read from the store once the change is written. Changes that arrive
while a stream is busy are coalesced. Selectors: ``listOptions.fieldSelector`` (``metadata.name``,
``metadata.namespace``) and ``listOptions.labelSelector``, evaluated on each event.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Mapping
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import StreamingResponse

from triggerfish.api.auth import AUTHENTICATED, CurrentPrincipal, Principal
from triggerfish.api.common import ListQuery, event_stream, hub_of, list_query, workflow_json
from triggerfish.hub import Hub
from workflow_runtime.views import workflow_document

router = APIRouter(prefix="/api/v1/workflow-events", tags=["workflows"], dependencies=AUTHENTICATED)


class Subscription:
    """The changes one watch stream has not handled yet."""

    def __init__(self) -> None:
        self._changed: dict[str, None] = {}
        self._deleted: list[dict[str, Any]] = []
        self._wake = asyncio.Event()

    def changed(self, uid: str) -> None:
        self._changed[uid] = None
        self._wake.set()

    def deleted(self, document: dict[str, Any]) -> None:
        self._deleted.append(document)
        self._wake.set()

    async def next(self) -> tuple[list[str], list[dict[str, Any]]]:
        """Wait for changes; returns (uids changed, documents deleted) since the previous call."""
        await self._wake.wait()
        self._wake.clear()
        changed, self._changed = list(self._changed), {}
        deleted, self._deleted = self._deleted, []
        return changed, deleted


class WorkflowBroker:
    """Fans workflow changes out to watch streams (one per hub, see :func:`broker`)."""

    def __init__(self, hub: Hub) -> None:
        self._subscriptions: set[Subscription] = set()
        hub.controller.add_listener(self.changed)

    def changed(self, uid: str) -> None:
        for subscription in self._subscriptions:
            subscription.changed(uid)

    def deleted(self, document: dict[str, Any]) -> None:
        for subscription in self._subscriptions:
            subscription.deleted(document)

    def subscribe(self) -> Subscription:
        subscription = Subscription()
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)


def broker(request: Request) -> WorkflowBroker:
    """The hub's broker, made on first use."""
    state = request.app.state
    existing: WorkflowBroker | None = getattr(state, "workflow_broker", None)
    if existing is None:
        existing = state.workflow_broker = WorkflowBroker(hub_of(request))
    return existing


def _digest(document: Mapping[str, Any]) -> str:
    return hashlib.blake2b(orjson.dumps(document, option=orjson.OPT_SORT_KEYS), digest_size=16).hexdigest()


async def watch_workflows(
    hub: Hub,
    subscription: Subscription,
    namespace: str | None,
    query: ListQuery,
    initial: bool,
    principal: Principal,
) -> AsyncIterator[dict[str, Any]]:
    """The watch events for one stream (see the module docstring); only of namespaces the caller
    may read."""
    sent: dict[str, str | None] = {}  # uid → digest of the last document sent
    for record in await hub.workflows.find(namespace):
        if principal.reaches(record.namespace) and query.matches(workflow_document(record)):
            sent[record.uid] = None
            if initial:
                document = await workflow_json(hub, record)
                sent[record.uid] = _digest(document)
                yield {"type": "ADDED", "object": document}
    while True:
        changed, deleted = await subscription.next()
        for document in deleted:
            uid = document["metadata"]["uid"]
            if uid in sent:
                del sent[uid]
                yield {"type": "DELETED", "object": document}
        if changed:
            await hub.controller.persister.flush()
        for uid in changed:
            found = await hub.workflows.get_by_uid(uid)
            if found is None or (namespace and found.namespace != namespace):
                continue
            if not principal.reaches(found.namespace):
                continue
            record = found
            if not query.matches(workflow_document(record)):
                continue
            document = await workflow_json(hub, record)
            digest = _digest(document)
            if uid in sent and sent[uid] == digest:
                continue
            yield {"type": "MODIFIED" if uid in sent else "ADDED", "object": document}
            sent[uid] = digest


def _stream(
    request: Request,
    principal: Principal,
    namespace: str | None,
    query: ListQuery,
    resource_version: str | None,
) -> StreamingResponse:
    hub, workflows = hub_of(request), broker(request)

    async def events() -> AsyncIterator[dict[str, Any]]:
        subscription = workflows.subscribe()  # before listing, so no change falls in between
        try:
            initial = not resource_version
            async for event in watch_workflows(hub, subscription, namespace, query, initial, principal):
                yield event
        finally:
            workflows.unsubscribe(subscription)

    return event_stream(events())


ResourceVersion = Annotated[
    str | None,
    Query(alias="listOptions.resourceVersion", description="given: no initial ADDED events"),
]


@router.get("/{namespace}")
async def watch_workflow_events(
    namespace: str,
    request: Request,
    principal: CurrentPrincipal,
    query: Annotated[ListQuery, Depends(list_query)],
    resource_version: ResourceVersion = None,
) -> StreamingResponse:
    """A stream that never ends by itself; close it to stop watching."""
    return _stream(request, principal, namespace, query, resource_version)


@router.get("/", include_in_schema=False)
async def watch_workflow_events_in_all_namespaces(
    request: Request,
    principal: CurrentPrincipal,
    query: Annotated[ListQuery, Depends(list_query)],
    resource_version: ResourceVersion = None,
) -> StreamingResponse:
    return _stream(request, principal, None, query, resource_version)
