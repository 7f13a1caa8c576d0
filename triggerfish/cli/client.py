"""Commands that talk to a running hub: ``apply``, ``delete`` and ``events``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from triggerfish.cli.hub_client import EXIT_INVALID, HubClient, Output, Server, Token, emit, fail
from triggerfish.cli.workflow_commands import delete_workflows
from workflow_runtime.spec.errors import ManifestError
from workflow_runtime.spec.loader import parse_documents

events_app = typer.Typer(help="Events on the bus, their lineage, and replay.", no_args_is_help=True)


def apply(
    files: Annotated[list[Path], typer.Option("-f", "--filename", help="Manifest file (repeatable)")],
    namespace: Annotated[str | None, typer.Option("-n", "--namespace")] = None,
    server: Server = None,
    token: Token = None,
) -> None:
    """Create or update EventSources, Sensors, CronWorkflows, WorkflowTemplates; submit Workflows."""
    client = HubClient(server, token)
    for file in files:
        try:
            docs = parse_documents(file.read_text(), str(file))
        except OSError as exc:
            fail(f"cannot read {file}: {exc.strerror}", EXIT_INVALID)
        except ManifestError as exc:
            fail(str(exc), EXIT_INVALID)
        for doc in docs:
            params = {"namespace": namespace} if namespace else {}
            applied = client.call("POST", "/api/v1/triggerfish/manifests", json=doc, params=params)
            scope = f"{applied['namespace']}/" if applied["namespace"] else ""
            print(f"{applied['kind'].lower()}/{scope}{applied['name']} {applied['action']}")
            for warning in applied.get("warnings") or []:
                print(f"  warning: {warning}", file=sys.stderr)


def delete(
    targets: Annotated[
        list[str],
        typer.Argument(help="Workflow names (or @latest); or KIND NAME, or kind/name, for a stored manifest"),
    ],
    namespace: Annotated[str, typer.Option("-n", "--namespace")] = "default",
    server: Server = None,
    token: Token = None,
) -> None:
    """Delete workflows (a running one is terminated first) or stored manifests.

    A manifest is named KIND NAME or kind/name (delete sensor my-sensor); deleting it stops what it
    runs."""
    client = HubClient(server, token)
    if len(targets) == 2 and targets[0].lower() in MANIFEST_KINDS:
        targets = [f"{targets[0]}/{targets[1]}"]
    manifests = [t for t in targets if "/" in t]
    delete_workflows(client, namespace, [t for t in targets if "/" not in t])
    for target in manifests:
        kind, _, name = target.partition("/")
        canonical = MANIFEST_KINDS.get(kind.lower())
        if canonical is None:
            known = ", ".join(sorted(set(MANIFEST_KINDS.values())))
            fail(f"unknown kind {kind!r}; expected one of {known}", EXIT_INVALID)
        client.call("DELETE", f"/api/v1/triggerfish/manifests/{canonical}/{namespace}/{name}")
        print(f"{canonical.lower()}/{namespace}/{name} deleted")


MANIFEST_KINDS = {
    alias: kind
    for kind in ("EventSource", "Sensor", "CronWorkflow", "WorkflowTemplate", "ClusterWorkflowTemplate")
    for alias in (kind.lower(), kind.lower() + "s")
}


@events_app.command("list")
def list_events(
    source: Annotated[str | None, typer.Option("--source", help="EventSource name")] = None,
    subject: Annotated[str | None, typer.Option("--event", help="Event name")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 50,
    output: Output = None,
    server: Server = None,
    token: Token = None,
) -> None:
    """The newest events on the bus."""
    params: dict[str, Any] = {"limit": limit}
    if source:
        params["source"] = source
    if subject:
        params["subject"] = subject
    items = HubClient(server, token).call("GET", "/api/v1/triggerfish/events", params=params)["items"]
    if emit(items, output):
        return
    table = Table(box=None, header_style="bold")
    for column in ("OFFSET", "ID", "SOURCE", "EVENT", "TYPE", "TIME"):
        table.add_column(column)
    for item in items:
        table.add_row(
            str(item["offset"]), item["id"], item["source"], item["subject"], item["type"], item["time"] or ""
        )
    Console().print(table)


@events_app.command("get")
def get_event(
    ref: Annotated[str, typer.Argument(help="Event id, or bus offset")],
    output: Output = None,
    server: Server = None,
    token: Token = None,
) -> None:
    """An event with its lineage: sensors that matched, triggers fired, runs created."""
    lineage = HubClient(server, token).call("GET", f"/api/v1/triggerfish/events/{ref}/lineage")
    if emit(lineage, output):
        return
    event = lineage["event"]
    print(f"Event:    {event['id']} (offset {event['offset']})")
    print(f"Source:   {event['namespace']}/{event['source']} ({event['type']}), event {event['subject']}")
    print(f"Time:     {event['time']}")
    print("Sensors:")
    for sensor in lineage["sensors"] or [{"sensor": "(none matched)", "dependencies": []}]:
        print(f"  {sensor['sensor']}: {', '.join(sensor['dependencies'])}")
    print("Triggers fired:")
    for firing in lineage["firings"]:
        result = json.dumps(firing["result"]) if firing["result"] else firing["error"] or ""
        print(f"  {firing['sensor']} {firing['trigger']}: {firing['status']} {result}")
    print("Runs:")
    for run in lineage["workflows"]:
        print(f"  {run['namespace']}/{run['name']}: {run['phase']}")


@events_app.command("replay")
def replay_event(
    ref: Annotated[str, typer.Argument(help="Event id, or bus offset")],
    sensor: Annotated[str | None, typer.Option("--sensor", help="Only this sensor")] = None,
    server: Server = None,
    token: Token = None,
) -> None:
    """Deliver an event again: the triggers it completes fire as new firings."""
    params = {"sensor": sensor} if sensor else {}
    result = HubClient(server, token).call("POST", f"/api/v1/triggerfish/events/{ref}/replay", params=params)
    for target in result["replayedTo"]:
        print(f"replayed to {target['sensor']} ({', '.join(target['dependencies'])})")
    if not result["replayedTo"]:
        print("no running sensor matched the event")
