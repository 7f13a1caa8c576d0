"""``triggerfish server``: the hub."""

from __future__ import annotations

import atexit
import gc
import logging
import logging.handlers
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from triggerfish.log_writer import LogWriter

if TYPE_CHECKING:  # the hub is imported when the command runs, so other commands start fast
    from triggerfish.hub import Hub


GC_YOUNG_THRESHOLD = 50_000
"""Container allocations between young collections (Python's default is 700)."""


def _tune_garbage_collector() -> None:
    """Each 7 KB webhook payload decodes into hundreds of dicts and lists, so with Python's default
    thresholds the collector ran every other event and walked the hub's long-lived objects (models,
    caches): an eighth of the CPU per delivery and the webhook's p99. What exists once the hub is up
    lives as long as the process, so it is frozen out of collection; young collections come rarer."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 50, 1000)


OWN_LOGGERS = ("triggerfish", "eventsources", "sensors", "triggers", "workflow_runtime")


def _configure_logging() -> None:
    """The hub's own loggers at INFO on stderr (``log`` triggers, calendar catch-up, resumed runs…);
    libraries stay at WARNING. Without this, Python's default dropped every INFO line, including
    what ``log`` triggers exist to print. Records are written by a thread, in batches
    (:mod:`triggerfish.log_writer`)."""
    writer = LogWriter(sys.stderr, logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    writer.start()
    atexit.register(writer.stop)
    logging.basicConfig(level=logging.WARNING, handlers=[logging.handlers.QueueHandler(writer.records)])
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO)


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

    _configure_logging()
    settings = load_settings(config, data_dir=data_dir)

    async def factory() -> Hub:
        return await open_hub(settings)

    async def ready(hub: Hub) -> None:
        _tune_garbage_collector()
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
