"""Argo's node names, node IDs and pod names, so the node tree reads exactly like Argo's."""

from __future__ import annotations

from workflow_runtime.state import fnv32a

MAX_POD_NAME_PREFIX = 253 - 1 - 10
"""Kubernetes name limit minus the separator and a 32-bit decimal hash."""


def node_id(workflow_name: str, node_name: str) -> str:
    """Argo's ``Workflow.NodeID``: the workflow name itself for the root, else name + FNV-1a hash."""
    if node_name == workflow_name:
        return workflow_name
    return f"{workflow_name}-{fnv32a(node_name)}"


def pod_name(workflow_name: str, node_name: str, template_name: str) -> str:
    """Argo's v2 pod names: ``<workflow>-<template>-<hash of node name>``."""
    if node_name == workflow_name:
        return workflow_name
    prefix = f"{workflow_name}-{template_name}" if template_name else workflow_name
    prefix = prefix[:MAX_POD_NAME_PREFIX]
    return f"{prefix}-{fnv32a(node_name)}"


def step_group_name(steps_node_name: str, index: int) -> str:
    return f"{steps_node_name}[{index}]"


def child_name(parent_name: str, child: str) -> str:
    """A step inside a step group, or a task inside a DAG."""
    return f"{parent_name}.{child}"


def retry_child_name(retry_node_name: str, attempt: int) -> str:
    return f"{retry_node_name}({attempt})"


def exit_handler_name(node_name: str) -> str:
    return f"{node_name}.onExit"


def hook_name(node_name: str, hook: str) -> str:
    return f"{node_name}.hooks.{hook}"


def display_name(node_name: str) -> str:
    """The last path element of a node name (``wf[0].hello(0:a)`` → ``hello(0:a)``)."""
    depth = 0
    for index in range(len(node_name) - 1, -1, -1):
        char = node_name[index]
        if char == ")":
            depth += 1
        elif char == "(":
            depth -= 1
        elif depth == 0 and char in ".]":
            if char == "]":
                start = node_name.rfind("[", 0, index)
                return node_name[start:]
            return node_name[index + 1 :]
    return node_name
