"""Workflow commands against a hub, with ``argo``'s flags: ``submit``, ``watch``, ``retry``,
``resubmit``, ``suspend``, ``resume``, ``stop``, ``terminate``; and the hub side of ``list``,
``get`` and ``logs``. A workflow name may be ``@latest`` (the newest in the namespace)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live

from triggerfish.cli.hub_client import EXIT_INVALID, HubClient, Namespace, Output, Server, Token, emit, fail
from triggerfish.cli.options import parse_parameters
from triggerfish.cli.views import COMPLETED, phase_of, print_workflow, print_workflows, workflow_view
from workflow_runtime.spec.errors import ManifestError
from workflow_runtime.spec.loader import parse_documents

API = "/api/v1/workflows"
Names = Annotated[list[str], typer.Argument(help="Workflow names (or @latest)")]
Parameters = Annotated[list[str] | None, typer.Option("-p", "--parameter", help="NAME=VALUE (repeatable)")]
Message = Annotated[str | None, typer.Option("--message")]
NodeFieldSelector = Annotated[
    str | None, typer.Option("--node-field-selector", help="e.g. displayName=approve,templateName=wait")
]


def resolve(client: HubClient, namespace: str, name: str) -> str:
    """``@latest`` → the newest workflow's name."""
    if name != "@latest":
        return name
    items = client.call("GET", f"{API}/{namespace}", params={"listOptions.limit": 1})["items"]
    if not items:
        fail(f"no workflows in namespace {namespace}")
    return str(items[0]["metadata"]["name"])


def _parameters(values: list[str] | None) -> dict[str, str]:
    try:
        return parse_parameters(values or [])
    except ValueError as exc:
        fail(str(exc), EXIT_INVALID)


def _labels(text: str | None) -> dict[str, str]:
    try:
        return parse_parameters([item for item in (text or "").split(",") if item.strip()])
    except ValueError as exc:
        fail(f"--labels: {exc}", EXIT_INVALID)


# ------------------------------------------------------------------------------------ watch


def watch_until_done(client: HubClient, namespace: str, name: str, live: bool) -> dict[str, Any]:
    """Follow a workflow through the hub's watch stream until it completes; returns it then."""
    document: dict[str, Any] = client.call("GET", f"{API}/{namespace}/{name}")
    if phase_of(document) in COMPLETED:
        return document
    params = {"listOptions.fieldSelector": f"metadata.name={name}"}
    events = client.stream(f"/api/v1/workflow-events/{namespace}", params)
    view = Live(workflow_view(document), refresh_per_second=2, transient=True) if live else None
    with view or contextlib.nullcontext():
        for event in events:
            if event["type"] == "DELETED":
                fail(f"workflow {name} was deleted")
            document = event["object"]
            if view is not None:
                view.update(workflow_view(document))
            if phase_of(document) in COMPLETED:
                break
    return document


def finish(document: dict[str, Any], output: str | None) -> None:
    """Print the final workflow; exit 0 only if it Succeeded."""
    print_workflow(document, output)
    raise typer.Exit(0 if phase_of(document) == "Succeeded" else 1)


def watch(
    name: Annotated[str, typer.Argument(help="Workflow name or @latest")],
    namespace: Namespace = "default",
    server: Server = None,
    token: Token = None,
) -> None:
    """Show a workflow's node tree live until it completes; exit 0 only if it Succeeded."""
    client = HubClient(server, token)
    name = resolve(client, namespace, name)
    finish(watch_until_done(client, namespace, name, Console().is_terminal), None)


# ------------------------------------------------------------------------------------ submit


def _workflows_in(files: list[Path]) -> list[dict[str, Any]]:
    out = []
    for file in files:
        try:
            docs = parse_documents(file.read_text(), str(file))
        except OSError as exc:
            fail(f"cannot read {file}: {exc.strerror}", EXIT_INVALID)
        except ManifestError as exc:
            fail(str(exc), EXIT_INVALID)
        for doc in docs:
            if doc.get("kind", "Workflow") != "Workflow":
                fail(
                    f"{file}: {doc.get('kind')} is not a Workflow; use 'triggerfish apply -f' for it",
                    EXIT_INVALID,
                )
            out.append(doc)
    return out


def _with_options(
    doc: dict[str, Any],
    parameters: dict[str, str],
    entrypoint: str | None,
    labels: dict[str, str],
    name: str | None,
    generate_name: str | None,
) -> dict[str, Any]:
    """What ``argo submit`` does to a manifest before sending it."""
    metadata = doc.setdefault("metadata", {})
    spec = doc.setdefault("spec", {})
    if name:
        metadata["name"] = name
    if generate_name:
        metadata["generateName"] = generate_name
        if not name:
            metadata.pop("name", None)
    if labels:
        metadata["labels"] = {**(metadata.get("labels") or {}), **labels}
    if entrypoint:
        spec["entrypoint"] = entrypoint
    existing = spec.setdefault("arguments", {}).setdefault("parameters", []) if parameters else []
    for key, value in parameters.items():
        entry = next((p for p in existing if p.get("name") == key), None)
        if entry is None:
            existing.append({"name": key, "value": value})
        else:
            entry.pop("valueFrom", None)
            entry["value"] = value
    return doc


def submit(
    files: Annotated[list[Path] | None, typer.Argument(help="Workflow manifests")] = None,
    source: Annotated[
        str | None,
        typer.Option(
            "--from", help="workflowtemplate/NAME, clusterworkflowtemplate/NAME or cronworkflow/NAME"
        ),
    ] = None,
    parameter: Parameters = None,
    entrypoint: Annotated[str | None, typer.Option("--entrypoint")] = None,
    labels: Annotated[str | None, typer.Option("-l", "--labels", help="a=b,c=d")] = None,
    name: Annotated[str | None, typer.Option("--name")] = None,
    generate_name: Annotated[str | None, typer.Option("--generate-name")] = None,
    server_dry_run: Annotated[bool, typer.Option("--server-dry-run", help="Validate only")] = False,
    watch_it: Annotated[
        bool, typer.Option("--watch", help="Show the node tree live until it completes")
    ] = False,
    wait: Annotated[bool, typer.Option("-w", "--wait", help="Wait until it completes")] = False,
    log: Annotated[bool, typer.Option("--log", help="Follow its logs until it completes")] = False,
    namespace: Namespace = "default",
    output: Output = None,
    server: Server = None,
    token: Token = None,
) -> None:
    """Submit workflows to a hub, from files or --from a stored template or CronWorkflow.

    With --watch, --wait or --log the exit code is 0 only if the workflow Succeeded."""
    client = HubClient(server, token)
    parameters, label_map = _parameters(parameter), _labels(labels)
    if bool(files) == bool(source):
        fail("give either workflow files or --from kind/name", EXIT_INVALID)
    created: list[dict[str, Any]] = []
    if source:
        kind, _, resource = source.partition("/")
        if not resource:
            fail("--from: expected kind/name, e.g. workflowtemplate/my-template", EXIT_INVALID)
        options: dict[str, Any] = {"parameters": [f"{k}={v}" for k, v in parameters.items()]}
        extra = {"entryPoint": entrypoint, "name": name, "generateName": generate_name, "labels": labels}
        options.update({k: v for k, v in extra.items() if v})
        options["serverDryRun"] = server_dry_run
        request = {"resourceKind": kind, "resourceName": resource, "submitOptions": options}
        created.append(client.call("POST", f"{API}/{namespace}/submit", json=request))
    for doc in _workflows_in(files or []):
        doc = _with_options(doc, parameters, entrypoint, label_map, name, generate_name)
        body = {"workflow": doc, "serverDryRun": server_dry_run}
        created.append(client.call("POST", f"{API}/{namespace}", json=body))
    following = watch_it or wait or log
    if following and (len(created) != 1 or server_dry_run):
        fail("--watch, --wait and --log follow exactly one submitted workflow", EXIT_INVALID)
    if not following:
        for document in created:
            _print_created(document, output)
        return
    workflow = created[0]["metadata"]["name"]
    if not output or output == "name":
        print(f"Name: {workflow}" if not output else workflow, flush=True)
    if log:
        print_logs(client, namespace, workflow, follow=True)
    document = watch_until_done(client, namespace, workflow, watch_it and Console().is_terminal)
    finish(document, output if output != "name" else None)


def _print_created(document: dict[str, Any], output: str | None) -> None:
    if output in (None, "name"):
        print(document["metadata"]["name"])
    else:
        print_workflow(document, output)


# ------------------------------------------------------------------------------------ list, get, logs


def remote_list(
    client: HubClient,
    namespace: str | None,
    phases: list[str] | None,
    selector: str | None,
    output: str | None,
) -> None:
    terms = [selector] if selector else []
    if phases:
        terms.append(f"workflows.argoproj.io/phase in ({','.join(phases)})")
    params = {"listOptions.labelSelector": ",".join(terms)} if terms else {}
    path = f"{API}/{namespace}" if namespace else f"{API}/"
    print_workflows(client.call("GET", path, params=params)["items"], output)


def remote_get(client: HubClient, namespace: str, name: str, output: str | None) -> None:
    print_workflow(client.call("GET", f"{API}/{namespace}/{resolve(client, namespace, name)}"), output)


def print_logs(
    client: HubClient,
    namespace: str,
    name: str,
    *,
    pod: str | None = None,
    follow: bool = False,
    container: str | None = None,
    grep: str | None = None,
    tail: int | None = None,
) -> None:
    """``argo logs``: every line prefixed with its pod name."""
    name = resolve(client, namespace, name)
    params: dict[str, Any] = {"logOptions.follow": follow}
    for key, value in (
        ("podName", pod),
        ("logOptions.container", container),
        ("grep", grep),
        ("logOptions.tailLines", tail),
    ):
        if value is not None:
            params[key] = value
    for entry in client.stream(f"{API}/{namespace}/{name}/log", params):
        print(f"{entry['podName']}: {entry['content']}", flush=True)


# ------------------------------------------------------------------------------------ lifecycle


def _command(
    names: list[str],
    namespace: str,
    client: HubClient,
    command: str,
    body: dict[str, Any],
    output: str | None = None,
) -> None:
    """``PUT .../{name}/{command}`` for each workflow; prints what happened (or the workflow, with
    ``-o json|yaml``)."""
    for name in names:
        name = resolve(client, namespace, name)
        document = client.call("PUT", f"{API}/{namespace}/{name}/{command}", json=body)
        if emit(document, output):
            continue
        if command == "resubmit":
            print(document["metadata"]["name"])
        else:
            print(f"workflow {name} {PAST[command]}")


PAST = {
    "suspend": "suspended",
    "resume": "resumed",
    "stop": "stopped",
    "terminate": "terminated",
    "retry": "retried",
}


def _node_command(selector: str | None, message: str | None) -> dict[str, Any]:
    return {k: v for k, v in (("nodeFieldSelector", selector), ("message", message)) if v}


def suspend(
    names: Names, namespace: Namespace = "default", server: Server = None, token: Token = None
) -> None:
    """Start no new step until resumed."""
    _command(names, namespace, HubClient(server, token), "suspend", {})


def resume(
    names: Names,
    node_field_selector: NodeFieldSelector = None,
    message: Message = None,
    namespace: Namespace = "default",
    server: Server = None,
    token: Token = None,
) -> None:
    """Resume suspended workflows (or only the suspend nodes --node-field-selector picks)."""
    body = _node_command(node_field_selector, message)
    _command(names, namespace, HubClient(server, token), "resume", body)


def stop(
    names: Names,
    node_field_selector: NodeFieldSelector = None,
    message: Message = None,
    namespace: Namespace = "default",
    server: Server = None,
    token: Token = None,
) -> None:
    """Kill running steps and run exit handlers.

    With --node-field-selector: fail the suspend nodes it picks instead."""
    body = _node_command(node_field_selector, message)
    _command(names, namespace, HubClient(server, token), "stop", body)


def terminate(
    names: Names, namespace: Namespace = "default", server: Server = None, token: Token = None
) -> None:
    """Kill running steps; no exit handler runs."""
    _command(names, namespace, HubClient(server, token), "terminate", {})


def retry(
    names: Names,
    restart_successful: Annotated[bool, typer.Option("--restart-successful")] = False,
    node_field_selector: NodeFieldSelector = None,
    parameter: Parameters = None,
    namespace: Namespace = "default",
    output: Output = None,
    server: Server = None,
    token: Token = None,
) -> None:
    """Run Failed/Error workflows again from where they failed.

    --restart-successful with --node-field-selector also re-runs the successful steps it picks."""
    _parameters(parameter)
    body: dict[str, Any] = {"restartSuccessful": restart_successful, "parameters": parameter or []}
    if node_field_selector:
        body["nodeFieldSelector"] = node_field_selector
    _command(names, namespace, HubClient(server, token), "retry", body, output)


def resubmit(
    names: Names,
    memoized: Annotated[
        bool, typer.Option("--memoized", help="Reuse the successful steps of a failed run")
    ] = False,
    parameter: Parameters = None,
    namespace: Namespace = "default",
    output: Output = None,
    server: Server = None,
    token: Token = None,
) -> None:
    """Submit workflows again, as new workflows; prints their names."""
    _parameters(parameter)
    body = {"memoized": memoized, "parameters": parameter or []}
    _command(names, namespace, HubClient(server, token), "resubmit", body, output)


def delete_workflows(client: HubClient, namespace: str, names: list[str]) -> None:
    for name in names:
        name = resolve(client, namespace, name)
        client.call("DELETE", f"{API}/{namespace}/{name}")
        print(f"Workflow '{name}' deleted")
