"""``PUT /api/v1/workflows/{namespace}/{name}/<command>``: stop, terminate, suspend, resume, set,
retry and resubmit, as Argo Server's WorkflowService takes them.

* ``resume`` / ``stop`` with ``nodeFieldSelector`` act on the active suspend nodes it picks
  (resume them, or fail them with ``message``), as ``argo resume|stop --node-field-selector``.
* ``set`` (``argo node set``) gives the picked suspend nodes ``outputParameters`` (a JSON object in a
  string, as Argo takes it), a ``message`` and optionally ends them with ``phase``.
* ``retry`` runs a Failed/Error workflow again from where it failed; ``resubmit`` creates a new
  workflow from the old one's manifest (``memoized``: starting from its successful nodes).

404 for an unknown workflow, 409 for a command that does not apply (a completed workflow, no
suspend node matches), 400 naming the field for malformed input.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel

from triggerfish.api.auth import AUTHENTICATED
from triggerfish.api.common import hub_of, parameters_of, workflow_json, workflow_record
from triggerfish.api.errors import ApiError
from triggerfish.hub import Hub
from triggerfish.store.workflows import WorkflowRecord
from workflow_runtime.controller.controller import InvalidOperation
from workflow_runtime.controller.selectors import SelectorError, parse_node_selector
from workflow_runtime.state import NodePhase
from workflow_runtime.views import FINISHED, workflow_document

router = APIRouter(prefix="/api/v1/workflows", tags=["workflows"], dependencies=AUTHENTICATED)

SETTABLE_PHASES = tuple(p.value for p in NodePhase if p.fulfilled)


class WorkflowRef(BaseModel):
    """``WorkflowTerminateRequest`` / ``WorkflowSuspendRequest``: the path says it all."""

    name: str | None = None
    namespace: str | None = None


class NodeCommand(WorkflowRef):
    """``WorkflowResumeRequest`` / ``WorkflowStopRequest``."""

    nodeFieldSelector: str | None = None
    message: str | None = None


class SetRequest(NodeCommand):
    """``WorkflowSetRequest``."""

    phase: str | None = None
    outputParameters: str | None = None


class RetryRequest(WorkflowRef):
    """``WorkflowRetryRequest``."""

    restartSuccessful: bool = False
    nodeFieldSelector: str | None = None
    parameters: list[str] | None = None


class ResubmitRequest(WorkflowRef):
    """``WorkflowResubmitRequest``."""

    memoized: bool = False
    parameters: list[str] | None = None


def _checked_selector(selector: str | None) -> str | None:
    """A node field selector, or 400 naming the field."""
    if selector:
        try:
            parse_node_selector(selector)
        except SelectorError as exc:
            raise ApiError(400, f"nodeFieldSelector: {exc}") from exc
    return selector or None


async def _running(request: Request, namespace: str, name: str, command: str) -> tuple[Hub, WorkflowRecord]:
    hub = hub_of(request)
    record = await workflow_record(hub, namespace, name)
    if record.phase in FINISHED:
        raise InvalidOperation(
            f'cannot {command} a completed workflow: workflow: "{name}", namespace: "{namespace}"'
        )
    return hub, record


async def _answer(hub: Hub, record: WorkflowRecord) -> dict[str, Any]:
    """The workflow once the command's effects are written."""
    await hub.controller.persister.flush()
    return await workflow_json(hub, await workflow_record(hub, record.namespace, record.name))


@router.put("/{namespace}/{name}/stop")
async def stop_workflow(
    namespace: str, name: str, request: Request, body: Annotated[NodeCommand | None, Body()] = None
) -> dict[str, Any]:
    """Kill running steps, run exit handlers; with ``nodeFieldSelector``, fail those suspend nodes."""
    body = body or NodeCommand()
    selector = _checked_selector(body.nodeFieldSelector)
    hub, record = await _running(request, namespace, name, "stop")
    if selector:
        hub.controller.stop_nodes(record.uid, selector, body.message or "")
    else:
        hub.controller.stop(record.uid, "Stop")
    return await _answer(hub, record)


@router.put("/{namespace}/{name}/terminate")
async def terminate_workflow(
    namespace: str, name: str, request: Request, body: Annotated[WorkflowRef | None, Body()] = None
) -> dict[str, Any]:
    """Kill running steps; no exit handler runs."""
    hub, record = await _running(request, namespace, name, "terminate")
    hub.controller.stop(record.uid, "Terminate")
    return await _answer(hub, record)


@router.put("/{namespace}/{name}/suspend")
async def suspend_workflow(
    namespace: str, name: str, request: Request, body: Annotated[WorkflowRef | None, Body()] = None
) -> dict[str, Any]:
    """Start no new step until resumed (running steps finish)."""
    hub, record = await _running(request, namespace, name, "suspend")
    hub.controller.suspend(record.uid)
    return await _answer(hub, record)


@router.put("/{namespace}/{name}/resume")
async def resume_workflow(
    namespace: str, name: str, request: Request, body: Annotated[NodeCommand | None, Body()] = None
) -> dict[str, Any]:
    """Resume the workflow and its suspend nodes (only those ``nodeFieldSelector`` picks, if given)."""
    body = body or NodeCommand()
    selector = _checked_selector(body.nodeFieldSelector)
    hub, record = await _running(request, namespace, name, "resume")
    hub.controller.resume(record.uid, message=body.message or "", node_field_selector=selector)
    return await _answer(hub, record)


def _output_parameters(text: str | None) -> dict[str, str] | None:
    if not text:
        return None
    try:
        values = json.loads(text)
    except ValueError as exc:
        raise ApiError(400, f"outputParameters: not JSON: {exc}") from exc
    if not isinstance(values, dict) or any(isinstance(v, dict | list) for v in values.values()):
        raise ApiError(400, 'outputParameters: expected a JSON object of strings, e.g. {"name": "value"}')
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}


@router.put("/{namespace}/{name}/set")
async def set_workflow(
    namespace: str, name: str, request: Request, body: Annotated[SetRequest, Body()]
) -> dict[str, Any]:
    """``argo node set``: outputs, message and phase of the suspend nodes ``nodeFieldSelector`` picks."""
    selector = _checked_selector(body.nodeFieldSelector)
    if selector is None:
        raise ApiError(400, "nodeFieldSelector: required")
    if body.phase is not None and body.phase not in SETTABLE_PHASES:
        raise ApiError(400, f"phase: must be one of {', '.join(SETTABLE_PHASES)}, got {body.phase!r}")
    outputs = _output_parameters(body.outputParameters)
    hub, record = await _running(request, namespace, name, "set")
    hub.controller.set_nodes(
        record.uid,
        node_field_selector=selector,
        phase=body.phase,
        message=body.message,
        output_parameters=outputs,
    )
    return await _answer(hub, record)


@router.put("/{namespace}/{name}/retry")
async def retry_workflow(
    namespace: str, name: str, request: Request, body: Annotated[RetryRequest | None, Body()] = None
) -> dict[str, Any]:
    """Run a Failed/Error workflow again from its failed steps (``restartSuccessful`` with a
    ``nodeFieldSelector`` also re-runs the successful steps it picks); 409 for any other phase."""
    body = body or RetryRequest()
    selector = _checked_selector(body.nodeFieldSelector)
    parameters = parameters_of(body.parameters, "parameters")
    hub = hub_of(request)
    record = await workflow_record(hub, namespace, name)
    retried = await hub.controller.retry(
        record.uid,
        node_field_selector=selector,
        restart_successful=body.restartSuccessful,
        parameters=parameters,
    )
    return await workflow_json(hub, retried)


@router.put("/{namespace}/{name}/resubmit")
async def resubmit_workflow(
    namespace: str, name: str, request: Request, body: Annotated[ResubmitRequest | None, Body()] = None
) -> dict[str, Any]:
    """A new workflow from this one's manifest, labelled
    ``workflows.argoproj.io/resubmitted-from-workflow``."""
    body = body or ResubmitRequest()
    parameters = parameters_of(body.parameters, "parameters")
    hub = hub_of(request)
    record = await workflow_record(hub, namespace, name)
    created = await hub.controller.resubmit(record.uid, memoized=body.memoized, parameters=parameters)
    return workflow_document(created, [])
