"""Argo's own test workflows (the conformance corpus) with every step in a podman container: the
in-scope cases must end as Argo says, as they do on the local executor
(tests/integration/test_conformance.py), with locally built stand-ins for the images they name."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.test_conformance import CORPUS, report, run_with_reruns
from tests.support.containers import EngineUnderTest
from triggerfish.config import load_settings
from triggerfish.hub import open_hub
from workflow_runtime.executors.container.executor import ContainerExecutor

CONCURRENCY = 32
"""Workflows at once: container starts are CPU-bound (2 cores), so more only queue in the engine."""

pytestmark = pytest.mark.slow


async def test_conformance_corpus_on_containers(podman_engine: EngineUnderTest, tmp_path: Path) -> None:
    if not (CORPUS / "expectations.yaml").is_file():
        pytest.skip(f"no conformance corpus: expected {CORPUS}/expectations.yaml")
    settings = load_settings(
        data_dir=tmp_path / "data",
        executor={"kind": podman_engine.name, "container": {"pull_policy": "never"}},
    )
    hub = await open_hub(settings)
    try:
        assert isinstance(hub.executor, ContainerExecutor)
        results = await run_with_reruns(hub.controller, concurrency=CONCURRENCY)
    finally:
        await hub.close()

    failed = [r for r in results if r.status == "failed"]
    assert not failed, f"{len(failed)} conformance case(s) failed on containers:\n{report(results)}"
    passed = [r for r in results if r.status == "passed"]
    assert len(passed) * 3 >= len(results), f"only {len(passed)} of {len(results)} passed:\n{report(results)}"
