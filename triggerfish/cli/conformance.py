"""``triggerfish conformance``: run Argo's own test workflows and report the pass rate."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:  # the hub is imported when the command runs, so other commands start fast
    from workflow_runtime.conformance import Result

DEFAULT_CORPUS = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "argo-workflows"

STYLES = {"passed": "green", "failed": "red", "not-run": "dim", "unscored": "yellow"}


def results_table(results: list[Result], show_not_run: bool) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("FILE", "RESULT", "PHASE", "SECONDS", "DETAIL"):
        table.add_column(column, overflow="fold")
    for result in sorted(results, key=lambda r: (r.status, r.case.name)):
        if result.status == "not-run" and not show_not_run:
            continue
        table.add_row(
            result.case.name,
            f"[{STYLES[result.status]}]{result.status}[/]",
            result.phase,
            f"{result.seconds:.1f}" if result.seconds else "",
            result.detail,
        )
    return table


def conformance(
    corpus: Annotated[Path, typer.Option("--corpus", help="Folder with expectations.yaml")] = DEFAULT_CORPUS,
    match: Annotated[str | None, typer.Option("--match", help="Only files whose name contains this")] = None,
    concurrency: Annotated[int, typer.Option("--concurrency")] = 8,
    output: Annotated[str | None, typer.Option("-o", "--output", help="json")] = None,
    show_not_run: Annotated[bool, typer.Option("--show-not-run/--hide-not-run")] = True,
) -> None:
    """Run every corpus file this build supports; exit 1 if any of them fails."""
    from triggerfish.config import load_settings
    from triggerfish.hub import open_hub
    from workflow_runtime.conformance import run_corpus, summary

    if not (corpus / "expectations.yaml").is_file():
        print(f"error: no conformance corpus at {corpus} (expected expectations.yaml there)", file=sys.stderr)
        raise typer.Exit(2)

    async def main() -> list[Result]:
        with tempfile.TemporaryDirectory(prefix="tf-conformance-") as data_dir:
            hub = await open_hub(load_settings(data_dir=Path(data_dir)))
            try:
                return await run_corpus(
                    hub.controller,
                    corpus,
                    only=(lambda c: match in c.name) if match else None,
                    concurrency=concurrency,
                )
            finally:
                await hub.close()

    results = asyncio.run(main())
    if output == "json":
        print(
            json.dumps(
                [
                    {
                        "file": r.case.name,
                        "result": r.status,
                        "phase": r.phase,
                        "seconds": round(r.seconds, 2),
                        "detail": r.detail,
                    }
                    for r in results
                ],
                indent=2,
            )
        )
    else:
        console = Console(width=max(Console().width, 160))
        console.print(results_table(results, show_not_run))
        console.print(summary(results), highlight=False)
    raise typer.Exit(1 if any(r.status == "failed" for r in results) else 0)
