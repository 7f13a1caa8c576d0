"""Argo's workflow validation (``argo lint`` / submit-time checks), collecting every problem.

Each problem is an :class:`~workflow_runtime.spec.errors.Issue`: ``path`` is the YAML path of the
offending field (``spec.templates[2].dag.tasks[1].depends``; for a template that lives in a stored
WorkflowTemplate, ``WorkflowTemplate/<name>:spec.templates[0]...``) and ``reason`` is Argo's
message, with Argo's own location prefix (``templates.main.steps[1].hello2 template name 'hell0'
undefined``).
"""

from __future__ import annotations

from collections.abc import Sequence

from workflow_runtime.spec.errors import Issue
from workflow_runtime.validation.workflow import validate_template_manifest, validate_workflow

__all__ = ["lint_report", "validate_template_manifest", "validate_workflow"]


def lint_report(issues: Sequence[Issue], source: str = "") -> str:
    """``argo lint``'s pretty output: the source, one ``✖`` line per issue, then the count.

    A reason that already starts with its path is printed alone (Argo's messages locate
    themselves); other issues print as ``path: reason``.
    """
    if not issues:
        return f"{source}: no linting errors found!" if source else "✔ no linting errors found!"
    lines = [f"{source}:"] if source else []
    for issue in issues:
        text = issue.reason if not issue.path or issue.reason.startswith(issue.path) else str(issue)
        lines.append(f"   ✖ {text}")
    lines += ["", f"✖ {len(issues)} linting errors found!"]
    return "\n".join(lines)
