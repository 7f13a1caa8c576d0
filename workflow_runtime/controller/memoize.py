"""Memoization: a template with ``memoize`` reuses the outputs of an earlier successful node with
the same key (and cache), if it is not older than ``maxAge``; the node then succeeds at once with
those outputs and ``memoizationStatus.hit`` set, and no step runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from triggerfish.store.memo import CacheEntry
from workflow_runtime.controller.durations import parse_duration
from workflow_runtime.controller.invocation import Invocation
from workflow_runtime.spec.common import RetryStrategy
from workflow_runtime.spec.template import Template
from workflow_runtime.state import Node, NodePhase, NodeType, utcnow

if TYPE_CHECKING:
    from workflow_runtime.controller.run import WorkflowRun

DEFAULT_CACHE = "default"


def node_type_of(template: Template, retry: RetryStrategy | None) -> NodeType:
    if retry is not None:
        return NodeType.RETRY
    return {
        "container": NodeType.POD,
        "script": NodeType.POD,
        "steps": NodeType.STEPS,
        "dag": NodeType.DAG,
        "suspend": NodeType.SUSPEND,
    }.get(template.kind, NodeType.SKIPPED)


def _cache_name(template: Template) -> str:
    assert template.memoize is not None
    cache = template.memoize.cache
    return cache.config_map.name if cache and cache.config_map else DEFAULT_CACHE


def _status(template: Template, hit: bool) -> dict[str, object]:
    assert template.memoize is not None
    return {"hit": hit, "key": template.memoize.key, "cacheName": _cache_name(template)}


async def cached_node(
    run: WorkflowRun, inv: Invocation, template: Template, retry: RetryStrategy | None
) -> Node | None:
    """A node that succeeds from the cache, or None when there is no usable entry."""
    if template.memoize is None or run.memo is None or run.tree.by_name(inv.node_name) is not None:
        return None
    entry = await run.memo.lookup(run.namespace, _cache_name(template), template.memoize.key)
    if entry is None:
        return None
    if template.memoize.max_age:
        age = (utcnow() - entry.created_at).total_seconds()
        if age > parse_duration(template.memoize.max_age):
            return None
    node = run.init_executable(inv, node_type_of(template, retry), NodePhase.SUCCEEDED, template)
    node.outputs = entry.outputs
    node.memoization_status = _status(template, hit=True)
    run.tree.touch(node)
    run.publish_global_outputs(node.outputs)
    return node


async def remember(run: WorkflowRun, template: Template, node: Node) -> None:
    """Record the miss on the node, and cache the outputs of a success."""
    if template.memoize is None or run.memo is None or node.memoization_status is not None:
        return
    node.memoization_status = _status(template, hit=False)
    run.tree.touch(node)
    if node.phase == NodePhase.SUCCEEDED:
        entry = CacheEntry(node.outputs or {}, node.id, run.name, utcnow())
        await run.memo.save(run.namespace, _cache_name(template), template.memoize.key, entry)
