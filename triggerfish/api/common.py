"""Helpers every Argo-compatible router shares: the hub, list options and pages, workflow lookup,
``NAME=VALUE`` parameters and Server-Sent Events."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import Query, Request
from starlette.responses import StreamingResponse

from triggerfish.api.errors import GRPC_CODES, ApiError
from triggerfish.api.selectors import DocumentPredicate, SelectorError, parse_field_selector, parse_selector
from triggerfish.cli.options import parse_parameters
from triggerfish.hub import Hub
from triggerfish.store.workflows import WorkflowRecord
from workflow_runtime.controller.controller import WorkflowNotFound
from workflow_runtime.spec.workflow import API_VERSION
from workflow_runtime.views import workflow_document


def hub_of(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def not_found(resource: str, name: str) -> ApiError:
    """Argo's (Kubernetes') wording: ``workflowtemplates.argoproj.io "x" not found``."""
    return ApiError(404, f'{resource}.argoproj.io "{name}" not found')


def with_header(document: dict[str, Any], kind: str) -> dict[str, Any]:
    """``apiVersion`` and ``kind`` filled in when a request body leaves them out (Argo Server knows
    them from the endpoint)."""
    return {"apiVersion": API_VERSION, "kind": kind, **document}


def already_exists(resource: str, name: str) -> ApiError:
    return ApiError(409, f'{resource}.argoproj.io "{name}" already exists')


# ------------------------------------------------------------------------------------ list options


@dataclass(frozen=True, slots=True)
class ListQuery:
    """``listOptions.*`` of Argo's list and watch requests."""

    label_selector: str | None
    field_selector: str | None
    limit: int | None
    offset: int
    show_remaining: bool
    matches: DocumentPredicate

    def select(self, documents: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        return [d for d in documents if self.matches(d)]

    def page(self, documents: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Argo's list body: ``{"metadata": {"continue"?, "remainingItemCount"?}, "items": [...]}``
        (``continue`` is an offset, as Argo Server's own paging)."""
        selected = self.select(documents)
        end = self.offset + self.limit if self.limit else len(selected)
        metadata: dict[str, Any] = {}
        if end < len(selected):
            metadata["continue"] = str(end)
            if self.show_remaining:
                metadata["remainingItemCount"] = len(selected) - end
        return {"metadata": metadata, "items": selected[self.offset : end]}


def list_query(
    label_selector: Annotated[str | None, Query(alias="listOptions.labelSelector")] = None,
    field_selector: Annotated[
        str | None,
        Query(alias="listOptions.fieldSelector", description="metadata.name and metadata.namespace"),
    ] = None,
    limit: Annotated[int | None, Query(alias="listOptions.limit", ge=0, le=2**31)] = None,
    continue_token: Annotated[
        str | None, Query(alias="listOptions.continue", description="offset from a previous page")
    ] = None,
) -> ListQuery:
    """A dependency: parse and check the list options (400 naming the option when malformed)."""
    try:
        labels = parse_selector(label_selector)
    except SelectorError as exc:
        raise ApiError(400, f"listOptions.labelSelector: {exc}") from exc
    try:
        fields, show_remaining = parse_field_selector(field_selector)
    except SelectorError as exc:
        raise ApiError(400, f"listOptions.fieldSelector: {exc}") from exc
    token = continue_token or "0"
    if not token.isdigit():
        raise ApiError(400, "listOptions.continue must be a non-negative integer")

    def matches(document: Mapping[str, Any]) -> bool:
        return fields(document) and labels((document.get("metadata") or {}).get("labels") or {})

    return ListQuery(label_selector, field_selector, limit, int(token), show_remaining, matches)


# ------------------------------------------------------------------------------------ workflows


async def workflow_record(hub: Hub, namespace: str, name: str) -> WorkflowRecord:
    record = await hub.workflows.get(namespace, name)
    if record is None:
        raise WorkflowNotFound(f'workflows.argoproj.io "{name}" not found')
    return record


async def workflow_json(hub: Hub, record: WorkflowRecord, *, nodes: bool = True) -> dict[str, Any]:
    """The workflow as Argo's JSON, with its nodes unless ``nodes`` is false."""
    return workflow_document(record, await hub.workflows.load_nodes(record.uid) if nodes else None)


def parameters_of(values: Sequence[str] | None, field: str) -> dict[str, str] | None:
    """``["name=value", ...]`` as Argo's requests carry parameters; 400 naming ``field`` if malformed."""
    if not values:
        return None
    try:
        return parse_parameters(list(values))
    except ValueError as exc:
        raise ApiError(400, f"{field}: {exc}") from exc


# ------------------------------------------------------------------------------------ streams


def sse_line(payload: Mapping[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def event_stream(results: AsyncIterator[Mapping[str, Any]]) -> StreamingResponse:
    """Server-Sent Events as Argo Server sends a stream: ``data: {"result": ...}`` per message, and
    ``data: {"error": {"code", "message"}}`` if the stream fails."""

    async def body() -> AsyncIterator[bytes]:
        try:
            async for result in results:
                yield sse_line({"result": result})
        except ApiError as exc:
            yield sse_line({"error": {"code": GRPC_CODES.get(exc.status, 2), "message": exc.message}})
        except WorkflowNotFound as exc:
            yield sse_line({"error": {"code": 5, "message": str(exc)}})

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
