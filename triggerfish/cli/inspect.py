"""``triggerfish list | get | logs``: against a hub when one is named, else the local store.

Where they look: ``--data-dir DIR`` reads that data directory; otherwise ``--server URL`` (or
``TRIGGERFISH_SERVER``) asks that hub; otherwise the local data directory is read
(``TRIGGERFISH_DATA_DIR``, default ``~/.local/share/triggerfish``). Output is the same either way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from triggerfish.api.selectors import SelectorError, parse_selector
from triggerfish.cli import workflow_commands as remote
from triggerfish.cli.hub_client import EXIT_INVALID, HubClient, LocalOrServer, Output, Token, fail
from triggerfish.cli.views import print_workflow, print_workflows

if TYPE_CHECKING:  # the store is opened (and imported) only when the local data directory is read
    from triggerfish.hub import Hub
    from triggerfish.store.workflows import WorkflowRecord

T = TypeVar("T")

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Read this data directory [default: TRIGGERFISH_DATA_DIR or ~/.local/share/triggerfish]",
    ),
]
Namespace = Annotated[str | None, typer.Option("-n", "--namespace")]


def _hub(server: str | None, token: str | None, data_dir: Path | None) -> HubClient | None:
    """The hub to ask, or None for the local store."""
    return HubClient(server, token) if server and data_dir is None else None


def _local(data_dir: Path | None, work: Callable[[Hub], Awaitable[T]]) -> T:
    from triggerfish.config import load_settings
    from triggerfish.hub import open_hub

    async def main() -> T:
        hub = await open_hub(load_settings(data_dir=data_dir), start_controller=False)
        try:
            return await work(hub)
        finally:
            await hub.close()

    try:
        return asyncio.run(main())
    except LookupError as exc:
        fail(str(exc.args[0]))


async def _find(hub: Hub, name: str, namespace: str | None) -> WorkflowRecord:
    namespace = namespace or hub.settings.namespace
    if name == "@latest":
        records = await hub.workflows.find(namespace, limit=1)
        if not records:
            raise LookupError(f"no workflows in namespace {namespace}")
        return records[0]
    record = await hub.workflows.get(namespace, name)
    if record is None:
        raise LookupError(f'workflow "{name}" not found in namespace {namespace}')
    return record


def list_workflows(
    namespace: Namespace = None,
    all_namespaces: Annotated[bool, typer.Option("-A", "--all-namespaces")] = False,
    status: Annotated[str | None, typer.Option("--status", help="Comma-separated phases")] = None,
    selector: Annotated[str | None, typer.Option("-l", "--selector", help="Label selector")] = None,
    output: Output = None,
    data_dir: DataDir = None,
    server: LocalOrServer = None,
    token: Token = None,
) -> None:
    """List workflows, newest first.

    With --server (or TRIGGERFISH_SERVER) it asks that hub, unless --data-dir is given; else it
    reads the local data directory."""
    phases = status.split(",") if status else None
    hub = _hub(server, token, data_dir)
    if hub is not None:
        remote.remote_list(hub, None if all_namespaces else namespace or "default", phases, selector, output)
        return
    try:
        matches = parse_selector(selector)
    except SelectorError as exc:
        fail(str(exc), EXIT_INVALID)

    async def work(hub: Hub) -> list[dict[str, Any]]:
        from workflow_runtime.views import workflow_document

        ns = None if all_namespaces else (namespace or hub.settings.namespace)
        return [workflow_document(r) for r in await hub.workflows.find(ns, phases=phases)]

    documents = [d for d in _local(data_dir, work) if matches(d["metadata"].get("labels") or {})]
    print_workflows(documents, output)


def get_workflow(
    name: Annotated[str, typer.Argument(help="Workflow name or @latest")],
    namespace: Namespace = None,
    output: Output = None,
    data_dir: DataDir = None,
    server: LocalOrServer = None,
    token: Token = None,
) -> None:
    """Show a workflow and its node tree.

    With --server (or TRIGGERFISH_SERVER) it asks that hub, unless --data-dir is given; else it
    reads the local data directory."""
    hub = _hub(server, token, data_dir)
    if hub is not None:
        remote.remote_get(hub, namespace or "default", name, output)
        return

    async def work(hub: Hub) -> dict[str, Any]:
        from workflow_runtime.views import workflow_document

        record = await _find(hub, name, namespace)
        return workflow_document(record, await hub.workflows.load_nodes(record.uid))

    print_workflow(_local(data_dir, work), output)


def logs(
    name: Annotated[str, typer.Argument(help="Workflow name or @latest")],
    pod: Annotated[str | None, typer.Argument(help="Only this step (pod name or node id)")] = None,
    follow: Annotated[
        bool, typer.Option("-f", "--follow", help="Stream new lines until the workflow ends (hub only)")
    ] = False,
    container: Annotated[str | None, typer.Option("-c", "--container")] = None,
    grep: Annotated[
        str | None, typer.Option("--grep", help="Only lines matching this regular expression")
    ] = None,
    tail: Annotated[int | None, typer.Option("--tail", help="Last N lines of each step")] = None,
    namespace: Namespace = None,
    data_dir: DataDir = None,
    server: LocalOrServer = None,
    token: Token = None,
) -> None:
    """Print every step's output, prefixed by its pod name (like ``argo logs``).

    With --server (or TRIGGERFISH_SERVER) it asks that hub, unless --data-dir is given; else it
    reads the local data directory (no --follow there)."""
    hub = _hub(server, token, data_dir)
    if hub is not None:
        remote.print_logs(
            hub,
            namespace or "default",
            name,
            pod=pod,
            follow=follow,
            container=container,
            grep=grep,
            tail=tail,
        )
        return
    if follow:
        fail("--follow needs a running hub: give --server or set TRIGGERFISH_SERVER", EXIT_INVALID)

    async def work(hub: Hub) -> list[dict[str, Any]]:
        from triggerfish.api.errors import ApiError
        from triggerfish.api.workflow_logs import Logs, log_query

        record = await _find(hub, name, namespace)
        try:
            reader = Logs(hub, record, log_query(pod, container, False, tail, grep))
        except ApiError as exc:
            raise LookupError(exc.message) from exc
        return [entry async for entry in reader.once(await reader.stored_pods())]

    for entry in _local(data_dir, work):
        print(f"{entry['podName']}: {entry['content']}")
