"""Argo's own test workflows (the conformance corpus), run by an in-process hub as
``triggerfish conformance`` runs them: every case in scope must end as Argo says it does.

The corpus lives next to the repository, in ``<repo>/../shared/conformance/argo-workflows``.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from tests.support.processes import kill_agent
from triggerfish.cli.conformance import results_table
from triggerfish.config import load_settings
from triggerfish.hub import open_hub
from workflow_runtime.conformance import Case, Result, run_corpus, summary
from workflow_runtime.controller.controller import Controller
from workflow_runtime.executors.local import sandbox
from workflow_runtime.executors.local.executor import LocalExecutor

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "argo-workflows"

RANDOM_RERUNS = 2
"""Extra runs for a failed case whose outcome is random by design: steps that exit at random with a
bounded number of retries (retry-container: a 1.2% chance of Failed, retry-with-steps: 3.4%).  The
corpus says so in the case's ``note``, or Argo labels the file ``workflows.argoproj.io/no-test:
flaky``.  A genuine failure fails all three runs; a random one does so with a chance below 1e-4."""

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        sandbox.isolation_problem() is not None,
        reason=f"no step isolation here: {sandbox.isolation_problem()}",
    ),
]


def random_by_design(case: Case) -> bool:
    if "random" in str(case.expectation.get("note") or ""):
        return True
    for document in yaml.safe_load_all(case.path.read_text()):
        labels = ((document or {}).get("metadata") or {}).get("labels") or {}
        if labels.get("workflows.argoproj.io/no-test") == "flaky":
            return True
    return False


def named(names: set[str]) -> Callable[[Case], bool]:
    return lambda case: case.name in names


async def run_with_reruns(controller: Controller, concurrency: int) -> list[Result]:
    """Every case in scope; failed cases that are random by design run again, RANDOM_RERUNS times."""
    results = await run_corpus(controller, CORPUS, concurrency=concurrency)
    for _ in range(RANDOM_RERUNS):
        again = {r.case.name for r in results if r.status == "failed" and random_by_design(r.case)}
        if not again:
            break
        rerun = await run_corpus(controller, CORPUS, only=named(again), concurrency=concurrency)
        by_name = {r.case.name: r for r in rerun}
        results = [by_name.get(r.case.name, r) for r in results]
    return results


def report(results: list[Result]) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=220, no_color=True)
    console.print(results_table([r for r in results if r.status != "not-run"], show_not_run=False))
    console.print(summary(results), highlight=False)
    return buffer.getvalue()


async def test_conformance_corpus(tmp_path: Path) -> None:
    if not (CORPUS / "expectations.yaml").is_file():
        pytest.skip(
            f"no conformance corpus: expected {CORPUS}/expectations.yaml "
            "(Argo's test workflows, in <repo>/../shared/conformance/argo-workflows)"
        )
    data_dir = tmp_path / "data"
    hub = await open_hub(load_settings(data_dir=data_dir))
    try:
        results = await run_with_reruns(hub.controller, concurrency=8)
        if isinstance(hub.executor, LocalExecutor):
            await hub.executor.stop_agent()
    finally:
        await hub.close()
        kill_agent(data_dir)

    failed = [r for r in results if r.status == "failed"]
    assert not failed, f"{len(failed)} conformance case(s) failed:\n{report(results)}"
    passed = [r for r in results if r.status == "passed"]
    assert len(passed) * 3 >= len(results), (
        f"only {len(passed)} of {len(results)} cases ran and passed: is the runtime's scope shrinking?\n"
        + report(results)
    )
