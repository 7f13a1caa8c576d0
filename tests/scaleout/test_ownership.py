"""Workflow ownership between hub replicas on one PostgreSQL database (leases, takeover, fencing).

Each "replica" is a controller with its own engine (its own connections, as another process
would have) and its own executor; what one replica's executor ran, the other's does not know.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.fake_executor import FakeExecutor, Outcome, argv
from tests.support.postgres import PostgresServer
from tests.unit.controller.helpers import manifest, node_in_phase, start, until
from triggerfish.config import Settings
from triggerfish.hub import build_ownership
from triggerfish.store.db import open_database
from triggerfish.store.leases import LeaseStore
from triggerfish.store.resources import ResourceStore
from triggerfish.store.schema import workflows
from triggerfish.store.workflows import WorkflowStore
from workflow_runtime.controller.controller import Controller, InvalidOperation
from workflow_runtime.controller.ownership import Ownership, OwnershipSettings
from workflow_runtime.controller.run import RunSettings
from workflow_runtime.executors.base import StepSpec
from workflow_runtime.state import WorkflowPhase

LEASE = 1.0
SCAN = 0.2

PIPELINE = """
templates:
- name: main
  steps:
  - - {name: A, template: echo}
  - - name: B
      template: slow
  - - {name: C, template: echo}
- name: slow
  retryStrategy: {limit: 2, retryPolicy: Always}
  container: {image: argoproj/argosay:v2, args: [sleep, "30"]}
"""


@dataclass
class Replica:
    name: str
    engine: AsyncEngine
    executor: FakeExecutor
    controller: Controller
    ownership: Ownership


@pytest.fixture
async def database(postgres: PostgresServer) -> str:
    return postgres.create_database("owners")


@pytest.fixture
async def replicas(database: str) -> AsyncIterator[Callable[..., Awaitable[Replica]]]:
    made: list[Replica] = []

    async def make(name: str, behaviour: Callable[[StepSpec], Outcome] | None = None) -> Replica:
        engine = await open_database(database)
        store = WorkflowStore(engine)
        executor = FakeExecutor(behaviour) if behaviour else FakeExecutor()
        controller = Controller(store, ResourceStore(engine), executor, RunSettings(kill_grace_seconds=0.1))
        ownership = Ownership(store, LeaseStore(engine, name, LEASE), OwnershipSettings(name, LEASE, SCAN))
        controller.ownership = ownership
        await controller.start()
        replica = Replica(name, engine, executor, controller, ownership)
        made.append(replica)
        return replica

    yield make
    for replica in made:
        await replica.controller.close()
        await replica.engine.dispose()


def quick(spec: StepSpec) -> Outcome:
    """Every step succeeds at once (``sleep`` included)."""
    return Outcome(stdout=" ".join(argv(spec)) + "\n")


async def owner_of(engine: AsyncEngine, uid: str) -> tuple[str | None, str]:
    async with engine.connect() as conn:
        row = (
            await conn.execute(sa.select(workflows.c.owner, workflows.c.phase).where(workflows.c.uid == uid))
        ).one()
    return row.owner, row.phase


async def test_the_submitting_replica_owns_the_run_and_releases_it(
    replicas: Callable[..., Awaitable[Replica]],
) -> None:
    a = await replicas("a", quick)
    record, _ = await start(a.controller, PIPELINE)
    assert (await owner_of(a.engine, record.uid))[0] == "a"
    assert await asyncio.wait_for(a.controller.wait(record.uid), 10) == WorkflowPhase.SUCCEEDED
    deadline = time.monotonic() + 5
    while (await owner_of(a.engine, record.uid)) != (None, "Succeeded"):
        assert time.monotonic() < deadline, await owner_of(a.engine, record.uid)
        await asyncio.sleep(0.02)


async def test_a_dead_replicas_run_is_taken_over_and_finishes(
    replicas: Callable[..., Awaitable[Replica]],
) -> None:
    a = await replicas("a")  # its B step sleeps 30 s
    b = await replicas("b", quick)
    record, run = await start(a.controller, PIPELINE)
    await until(node_in_phase(run, "wf[1].B(0)", "Running"))
    a_started = list(a.executor.started)
    await a.ownership.close()  # the replica dies: no more renewals, its run is not driven any more
    for task in list(a.controller._tasks.values()):
        task.cancel()
    died = time.monotonic()

    await until(lambda: record.uid in b.controller.runs, timeout=LEASE + SCAN + 5)
    took = time.monotonic() - died
    assert took < LEASE + SCAN + 1.5, f"takeover after {took:.1f}s"
    assert await asyncio.wait_for(b.controller.wait(record.uid), 10) == WorkflowPhase.SUCCEEDED
    tree = b.controller.runs[record.uid].tree
    first, second = tree.by_name("wf[1].B(0)"), tree.by_name("wf[1].B(1)")
    assert first is not None and (first.phase.value, first.message) == ("Error", "pod deleted")
    assert second is not None and second.phase.value == "Succeeded"
    assert not any(key in b.executor.started for key in a_started)  # A was not run again
    assert len(b.executor.started) == 2  # B's retry and C


async def test_a_replica_that_lost_its_lease_stops_writing(
    replicas: Callable[..., Awaitable[Replica]],
) -> None:
    a = await replicas("a")
    record, run = await start(a.controller, PIPELINE)
    await until(node_in_phase(run, "wf[1].B(0)", "Running"))
    await a.controller.persister.flush()
    async with a.engine.begin() as conn:  # another replica took it over (say, after a long pause)
        await conn.execute(workflows.update().where(workflows.c.uid == record.uid).values(owner="b"))
    version = (await a.controller.workflows.get_by_uid(record.uid)).version  # type: ignore[union-attr]
    await until(lambda: record.uid not in a.controller._tasks, timeout=LEASE + 1)  # renewal noticed
    run.stop("Terminate")  # whatever the abandoned run object still does is not written
    await a.controller.persister.flush()
    stored = await a.controller.workflows.get_by_uid(record.uid)
    assert stored is not None and stored.version == version and stored.phase == "Running"


async def test_retry_on_a_replica_that_does_not_own_the_run(
    replicas: Callable[..., Awaitable[Replica]],
) -> None:
    a = await replicas("a", lambda spec: Outcome(exit_code=1))
    b = await replicas("b")
    record, _ = await start(a.controller, "templates: [{name: main, container: {image: x, args: [fail]}}]")
    assert await asyncio.wait_for(a.controller.wait(record.uid), 10) == WorkflowPhase.FAILED
    async with a.engine.begin() as conn:  # as if a still held a live lease on it
        await conn.execute(
            workflows.update()
            .where(workflows.c.uid == record.uid)
            .values(owner="a", lease_until=sa.func.now() + sa.text("interval '1 hour'"))
        )
    with pytest.raises(InvalidOperation, match="replica a"):
        await b.controller.retry(record.uid)


async def test_concurrent_claims_never_share_a_workflow(database: str) -> None:
    engines = [await open_database(database) for _ in range(3)]
    try:
        store = WorkflowStore(engines[0])
        owner = Ownership(store, LeaseStore(engines[0], "dead", 0.0), OwnershipSettings("dead", 0.0))
        assert owner.replica_id == "dead"
        controller = Controller(store, ResourceStore(engines[0]), FakeExecutor(), RunSettings())
        for n in range(60):
            await controller.submit(manifest("templates: [{name: main, suspend: {}}]", name=f"w{n}"))
        await controller.persister.flush()
        for task in list(controller._tasks.values()):
            task.cancel()
        await asyncio.gather(*controller._tasks.values(), return_exceptions=True)
        claimers = [LeaseStore(engine, f"r{i}", 30.0) for i, engine in enumerate(engines)]
        results = await asyncio.gather(*(c.claim_unfinished() for c in claimers))
        claimed = [{r.uid for r in result} for result in results]
        assert sum(len(c) for c in claimed) == 60
        assert len(set().union(*claimed)) == 60
        holders = await claimers[0].holders()
        assert set(holders.values()) <= {"r0", "r1", "r2"}
        newcomer = LeaseStore(engines[1], "r9", 30.0)
        assert await newcomer.claim_unfinished() == []  # live leases are not claimable
        await controller.persister.close()
    finally:
        for engine in engines:
            await engine.dispose()


async def test_the_embedded_profile_has_no_ownership(tmp_path: object) -> None:
    from pathlib import Path

    from triggerfish.store.db import sqlite_url

    assert isinstance(tmp_path, Path)
    engine = await open_database(sqlite_url(tmp_path))
    try:
        settings = Settings(data_dir=tmp_path)
        assert build_ownership(settings, engine, WorkflowStore(engine)) is None
        forced = Settings(data_dir=tmp_path, cluster={"ownership": "on", "replica_id": "x"})
        ownership = build_ownership(forced, engine, WorkflowStore(engine))
        assert ownership is not None and ownership.replica_id == "x"
    finally:
        await engine.dispose()
