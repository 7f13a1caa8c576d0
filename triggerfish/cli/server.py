"""``triggerfish server``: the hub."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:  # the hub is imported when the command runs, so other commands start fast
    from triggerfish.hub import Hub


def server(
    data_dir: Annotated[Path | None, typer.Option("--data-dir", envvar="TRIGGERFISH_DATA_DIR")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="Settings YAML file")] = None,
    manifests: Annotated[
        list[Path] | None, typer.Option("--manifests", help="Directory of manifests to load (repeatable)")
    ] = None,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="HTTP port (Argo Server's default)")] = 2746,
) -> None:
    """Run the hub: resume interrupted workflows, load manifests, serve the API."""
    import uvicorn

    from triggerfish.api.app import create_app, with_event_source_shortcut
    from triggerfish.config import load_settings
    from triggerfish.hub import open_hub
    from triggerfish.manifests import load_directory

    settings = load_settings(config, data_dir=data_dir)

    async def factory() -> Hub:
        return await open_hub(settings)

    async def ready(hub: Hub) -> None:
        if not manifests:
            return
        workflows: list[Path] = []
        for directory in manifests:
            report = await load_directory(hub.manifests, directory)
            print(f"loaded {len(report.applied)} manifest(s) from {directory}", flush=True)
            for applied in report.applied:
                print(f"  {applied}", flush=True)
            for error in report.errors:
                print(f"  skipped: {error}", flush=True)
            workflows += report.workflows
        base = f"http://{host}:{port}"
        for owner, method, path in hub.sources.webhook_paths()[:1]:
            print(f"trigger the {owner} webhook with:", flush=True)
            body = """'{"message": "hi"}'"""
            header = "'Content-Type: application/json'"
            print(f"  curl -X {method} {base}{path} -H {header} -d {body}", flush=True)
        if workflows:
            print("submit a workflow with, for example:", flush=True)
            print(f"  triggerfish submit {workflows[0]} --server {base}", flush=True)

    app = with_event_source_shortcut(create_app(factory, ready))
    uvicorn.run(app, host=host, port=port, log_level="info")
