"""``triggerfish run``: an in-process hub that runs one workflow and shows it live."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from pathlib import Path

import yaml
from rich.console import Console, Group
from rich.live import Live

from triggerfish.cli.render import node_tree, summary_table
from triggerfish.config import load_settings
from triggerfish.hub import open_hub
from workflow_runtime.controller.controller import SubmitOptions
from workflow_runtime.controller.run import WorkflowRun
from workflow_runtime.spec.errors import ManifestError
from workflow_runtime.spec.loader import load_workflow_kind, parse_documents
from workflow_runtime.spec.workflow import Workflow
from workflow_runtime.state import WorkflowPhase
from workflow_runtime.validation import lint_report
from workflow_runtime.views import workflow_document

REFRESH_SECONDS = 0.2


def _view(run: WorkflowRun) -> Group:
    document = {
        "metadata": run.workflow.metadata.to_argo(),
        "spec": run.spec.to_argo(),
        "status": run.status_summary(),
    }
    return Group(summary_table(document), "", node_tree(run.name, run.tree.nodes, roots=_roots(run)))


def _roots(run: WorkflowRun) -> list[str]:
    roots = [run.name] if run.tree.by_name(run.name) else []
    exit_node = run.tree.by_name(f"{run.name}.onExit")
    return roots + ([exit_node.id] if exit_node else [])


async def _watch(run: WorkflowRun, done: asyncio.Future[WorkflowPhase], console: Console) -> None:
    """Redraw the node tree whenever nodes change (at most every REFRESH_SECONDS), and every
    second anyway so running durations keep counting."""
    version: int | None = None
    with Live(_view(run), console=console, auto_refresh=False, transient=True) as live:
        while not done.done():
            with contextlib.suppress(TimeoutError):
                version = await asyncio.wait_for(run.changed(version), timeout=1.0)
            live.update(_view(run), refresh=True)
            await asyncio.sleep(REFRESH_SECONDS)


async def run_workflow(
    file: Path,
    parameters: dict[str, str],
    entrypoint: str | None,
    output: str | None,
    data_dir: Path | None,
    config: Path | None,
) -> int:
    console = Console()
    try:
        docs = parse_documents(file.read_text(), str(file))
        manifests = [load_workflow_kind(doc, str(file)) for doc in docs]
    except OSError as exc:
        print(f"error: cannot read {file}: {exc.strerror}", file=sys.stderr)
        return 2
    except ManifestError as exc:
        print(lint_report(exc.issues, source=str(file)), file=sys.stderr)
        return 2
    workflows = [m for m in manifests if isinstance(m, Workflow)]
    if len(workflows) != 1:
        print(f"error: {file} must contain exactly one Workflow, found {len(workflows)}", file=sys.stderr)
        return 2
    hub = await open_hub(load_settings(config, data_dir=data_dir))
    try:
        for template in (m for m in manifests if not isinstance(m, Workflow)):
            namespace = (
                ""
                if template.kind == "ClusterWorkflowTemplate"
                else (template.metadata.namespace or hub.settings.namespace)
            )
            await hub.resources.put(
                template.kind, namespace, template.metadata.name or "", template.to_argo()
            )
        try:
            record = await hub.controller.submit(
                workflows[0],
                SubmitOptions(namespace=hub.settings.namespace, parameters=parameters, entrypoint=entrypoint),
            )
        except ManifestError as exc:
            print(lint_report(exc.issues, source=str(file)), file=sys.stderr)
            return 2
        run = hub.controller.runs[record.uid]
        done = asyncio.ensure_future(hub.controller.wait(record.uid))
        started = time.monotonic()
        if console.is_terminal and output is None:
            await _watch(run, done, console)
        phase = await done
        stored = await hub.workflows.get_by_uid(record.uid)
        assert stored is not None
        document = workflow_document(stored, await hub.workflows.load_nodes(record.uid))
        if output == "json":
            console.print_json(json.dumps(document))
        elif output == "yaml":
            print(yaml.safe_dump(document, sort_keys=False))
        else:
            console.print(_view(run))
            console.print(
                f"\n{record.name} {phase.value} in {time.monotonic() - started:.1f}s", highlight=False
            )
        return 0 if phase == WorkflowPhase.SUCCEEDED else 1
    finally:
        await hub.close()
