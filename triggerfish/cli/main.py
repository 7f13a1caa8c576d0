"""The ``triggerfish`` command line."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from triggerfish.cli import (
    client,
    conformance,
    inspect,
    resource_commands,
    server,
    workflow_commands,
)
from triggerfish.cli.options import parse_parameters
from workflow_runtime.spec.errors import ManifestError
from workflow_runtime.spec.loader import load_workflow_kind, parse_documents
from workflow_runtime.spec.workflow import Workflow

app = typer.Typer(
    name="triggerfish",
    help="Event-driven trigger hub: run Argo Workflows and Argo Events manifests unmodified.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("list")(inspect.list_workflows)
app.command("get")(inspect.get_workflow)
app.command("logs")(inspect.logs)
app.command("server")(server.server)
app.command("conformance")(conformance.conformance)
app.command("submit")(workflow_commands.submit)
app.command("watch")(workflow_commands.watch)
app.command("retry")(workflow_commands.retry)
app.command("resubmit")(workflow_commands.resubmit)
app.command("suspend")(workflow_commands.suspend)
app.command("resume")(workflow_commands.resume)
app.command("stop")(workflow_commands.stop)
app.command("terminate")(workflow_commands.terminate)
app.command("apply")(client.apply)
app.command("delete")(client.delete)
app.add_typer(client.events_app, name="events")
app.add_typer(resource_commands.template_app, name="template")
app.add_typer(resource_commands.cron_app, name="cron")

EXIT_INVALID = 2


@app.command()
def run(
    file: Annotated[Path, typer.Argument(help="Workflow manifest (YAML or JSON)")],
    parameter: Annotated[list[str] | None, typer.Option("-p", "--parameter", help="NAME=VALUE")] = None,
    entrypoint: Annotated[str | None, typer.Option("--entrypoint", help="Template to start from")] = None,
    output: Annotated[str | None, typer.Option("-o", "--output", help="json|yaml: print the result")] = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", envvar="TRIGGERFISH_DATA_DIR")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="Settings YAML file")] = None,
) -> None:
    """Run a workflow in this process, showing its nodes live; exit 0 only if it Succeeded."""
    try:
        params = parse_parameters(parameter or [])
    except ValueError as exc:
        _fail_invalid(str(exc))
    from triggerfish.cli import run_command  # the whole hub: imported only for this command

    code = asyncio.run(run_command.run_workflow(file, params, entrypoint, output, data_dir, config))
    raise typer.Exit(code)


@app.command()
def lint(files: Annotated[list[Path], typer.Argument(help="Manifests to check")]) -> None:
    """Check manifests the way Argo's lint does; exit 1 when a problem is found."""
    from workflow_runtime.validation import lint_report, validate_template_manifest, validate_workflow

    console = Console()
    problems = 0
    for file in files:
        try:
            docs = parse_documents(_read(file), str(file))
            for doc in docs:
                manifest = load_workflow_kind(doc, str(file))
                if isinstance(manifest, Workflow):
                    issues = validate_workflow(manifest)
                else:
                    issues = validate_template_manifest(manifest.spec)
                if issues:
                    raise ManifestError(issues, str(file))
        except ManifestError as exc:
            problems += len(exc.issues)
            console.print(lint_report(exc.issues, source=str(file)), highlight=False, markup=False)
            continue
        console.print(f"{file}: no linting errors found!", highlight=False)
    raise typer.Exit(1 if problems else 0)


def _read(file: Path) -> str:
    try:
        return file.read_text()
    except OSError as exc:
        _fail_invalid(f"cannot read {file}: {exc.strerror}")


def _fail_invalid(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(EXIT_INVALID)


def main() -> None:
    app()
