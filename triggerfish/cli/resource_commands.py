"""``triggerfish template ...`` and ``triggerfish cron ...``: WorkflowTemplates,
ClusterWorkflowTemplates and CronWorkflows on a hub, like ``argo template|cluster-template|cron``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from triggerfish.cli.hub_client import EXIT_INVALID, HubClient, Namespace, Output, Server, Token, emit, fail
from triggerfish.cli.render import human_duration
from workflow_runtime.spec.errors import ManifestError
from workflow_runtime.spec.loader import parse_documents
from workflow_runtime.state import parse_time, utcnow

template_app = typer.Typer(
    help="WorkflowTemplates (--cluster: ClusterWorkflowTemplates) on a hub.", no_args_is_help=True
)
cron_app = typer.Typer(help="CronWorkflows on a hub.", no_args_is_help=True)

Cluster = Annotated[bool, typer.Option("--cluster", help="ClusterWorkflowTemplates")]
Names = Annotated[list[str], typer.Argument()]


def _templates_path(cluster: bool, namespace: str) -> str:
    return "/api/v1/cluster-workflow-templates" if cluster else f"/api/v1/workflow-templates/{namespace}"


def _age(document: dict[str, Any]) -> str:
    created = parse_time(document["metadata"].get("creationTimestamp"))
    return human_duration((utcnow() - created).total_seconds()) if created else ""


def _print_items(items: list[dict[str, Any]], output: str | None, columns: dict[str, Any]) -> None:
    if emit(items, output):
        return
    if output == "name":
        for item in items:
            print(item["metadata"]["name"])
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in columns:
        table.add_column(column)
    for item in items:
        table.add_row(*(str(value(item)) for value in columns.values()))
    Console().print(table)


def _print_one(document: dict[str, Any], output: str | None) -> None:
    if output == "name":
        print(document["metadata"]["name"])
    elif not emit(document, output or "yaml"):
        fail(f"unknown output {output!r}", EXIT_INVALID)


# ------------------------------------------------------------------------------------ templates


@template_app.command("create")
def create_templates(
    files: Annotated[
        list[Path], typer.Argument(help="WorkflowTemplate or ClusterWorkflowTemplate manifests")
    ],
    namespace: Namespace = "default",
    output: Output = None,
    server: Server = None,
    token: Token = None,
) -> None:
    """Create templates (each file's kind decides: WorkflowTemplate or ClusterWorkflowTemplate)."""
    client = HubClient(server, token)
    for file in files:
        try:
            docs = parse_documents(file.read_text(), str(file))
        except OSError as exc:
            fail(f"cannot read {file}: {exc.strerror}", EXIT_INVALID)
        except ManifestError as exc:
            fail(str(exc), EXIT_INVALID)
        for doc in docs:
            kind = doc.get("kind", "WorkflowTemplate")
            if kind not in ("WorkflowTemplate", "ClusterWorkflowTemplate"):
                fail(f"{file}: {kind} is not a WorkflowTemplate or ClusterWorkflowTemplate", EXIT_INVALID)
            path = _templates_path(kind == "ClusterWorkflowTemplate", namespace)
            created = client.call("POST", path, json={"template": doc})
            if output:
                _print_one(created, output)
            else:
                print(f"{kind.lower()}/{created['metadata']['name']} created")


@template_app.command("list")
def list_templates(
    cluster: Cluster = False,
    namespace: Namespace = "default",
    output: Output = None,
    server: Server = None,
    token: Token = None,
) -> None:
    """List templates."""
    items = HubClient(server, token).call("GET", _templates_path(cluster, namespace))["items"]
    columns: dict[str, Any] = {"NAME": lambda d: d["metadata"]["name"], "AGE": _age}
    _print_items(items, output, columns)


@template_app.command("get")
def get_template(
    name: str,
    cluster: Cluster = False,
    namespace: Namespace = "default",
    output: Output = None,
    server: Server = None,
    token: Token = None,
) -> None:
    """Show a template (YAML unless -o json|name)."""
    _print_one(HubClient(server, token).call("GET", f"{_templates_path(cluster, namespace)}/{name}"), output)


@template_app.command("delete")
def delete_templates(
    names: Names,
    cluster: Cluster = False,
    namespace: Namespace = "default",
    server: Server = None,
    token: Token = None,
) -> None:
    """Delete templates."""
    client = HubClient(server, token)
    for name in names:
        client.call("DELETE", f"{_templates_path(cluster, namespace)}/{name}")
        print(f"{'clusterworkflowtemplate' if cluster else 'workflowtemplate'}/{name} deleted")


# ------------------------------------------------------------------------------------ cron


def _schedule(document: dict[str, Any]) -> str:
    spec = document.get("spec") or {}
    return ",".join(spec.get("schedules") or [spec.get("schedule") or ""])


def _last_run(document: dict[str, Any]) -> str:
    last = parse_time((document.get("status") or {}).get("lastScheduledTime"))
    return human_duration((utcnow() - last).total_seconds()) if last else "N/A"


@cron_app.command("list")
def list_crons(
    namespace: Namespace = "default", output: Output = None, server: Server = None, token: Token = None
) -> None:
    """List CronWorkflows."""
    items = HubClient(server, token).call("GET", f"/api/v1/cron-workflows/{namespace}")["items"]
    columns: dict[str, Any] = {
        "NAME": lambda d: d["metadata"]["name"],
        "AGE": _age,
        "LAST RUN": _last_run,
        "SCHEDULE": _schedule,
        "TIMEZONE": lambda d: (d.get("spec") or {}).get("timezone", ""),
        "SUSPENDED": lambda d: str(bool((d.get("spec") or {}).get("suspend"))).lower(),
    }
    _print_items(items, output, columns)


@cron_app.command("get")
def get_cron(
    name: str,
    namespace: Namespace = "default",
    output: Output = None,
    server: Server = None,
    token: Token = None,
) -> None:
    """Show a CronWorkflow (YAML unless -o json|name)."""
    _print_one(HubClient(server, token).call("GET", f"/api/v1/cron-workflows/{namespace}/{name}"), output)


def _set_suspended(
    names: list[str], namespace: str, server: str | None, token: str | None, command: str
) -> None:
    client = HubClient(server, token)
    for name in names:
        client.call("PUT", f"/api/v1/cron-workflows/{namespace}/{name}/{command}", json={})
        print(f"CronWorkflow '{name}' {command}{'ed' if command == 'suspend' else 'd'}")


@cron_app.command("suspend")
def suspend_crons(
    names: Names, namespace: Namespace = "default", server: Server = None, token: Token = None
) -> None:
    """Stop starting runs until resumed."""
    _set_suspended(names, namespace, server, token, "suspend")


@cron_app.command("resume")
def resume_crons(
    names: Names, namespace: Namespace = "default", server: Server = None, token: Token = None
) -> None:
    """Start runs on schedule again."""
    _set_suspended(names, namespace, server, token, "resume")
