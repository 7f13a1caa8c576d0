"""Persistence of the node tree, and resuming an interrupted workflow in a new controller."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import event as sa_event

from tests.support.fake_executor import FakeExecutor
from triggerfish.store.resources import ResourceStore
from triggerfish.store.workflows import AlreadyExists, EventLink, WorkflowRecord, WorkflowStore
from triggers.firings import events_of_workflow, workflows_of_event
from workflow_runtime.controller import controller as controller_module
from workflow_runtime.controller.controller import Controller
from workflow_runtime.controller.run import RunSettings
from workflow_runtime.executors.base import StepExit, StepLost
from workflow_runtime.state import WorkflowPhase, utcnow

from .conftest import rich_behaviour
from .helpers import Result, node_in_phase, run, start, until

Stores = tuple[WorkflowStore, ResourceStore]
MakeController = Callable[[FakeExecutor], Controller]


@pytest.fixture
async def make_controller(stores: Stores) -> AsyncIterator[MakeController]:
    made: list[Controller] = []

    def make(executor: FakeExecutor) -> Controller:
        controller = Controller(*stores, executor, RunSettings(kill_grace_seconds=0.1))
        made.append(controller)
        return controller

    yield make
    for controller in made:
        await controller.close()


async def stored_nodes(controller: Controller, uid: str) -> dict[str, dict[str, object]]:
    return {n["id"]: n for n in await controller.workflows.load_nodes(uid)}


async def test_store_matches_memory_after_run(controller: Controller) -> None:
    r = await run(
        controller,
        """
onExit: echo
templates:
- name: main
  dag:
    tasks:
    - {name: A, template: echo}
    - {name: B, template: fail, depends: A}
    - {name: C, template: echo, depends: B, withItems: [x, y]}
""",
    )
    assert r.phase == "Failed"
    stored = await stored_nodes(controller, r.record.uid)
    assert stored == {n.id: n.to_json() for n in r.run.tree}
    record = await controller.workflows.get_by_uid(r.record.uid)
    assert record is not None
    assert (record.phase, record.message) == ("Failed", r.message)
    assert record.finished_at is not None and record.started_at is not None
    assert record.status["phase"] == "Failed" and record.status["message"] == r.message
    assert record.status["progress"] == "2/3"


CRASHY = """
templates:
- name: main
  steps:
  - - {name: A, template: echo}
  - - {name: B, template: sleep, arguments: {parameters: [{name: s, value: "1.5"}]}}
    - {name: B2, template: echo}
  - - {name: C, template: echo, arguments: {parameters: [{name: msg, value: "{{steps.B2.outputs.result}}"}]}}
"""


def shield_waits(executor: FakeExecutor) -> None:
    """Make the fake's ``wait`` survive the cancellation of its waiter, as a real executor's step
    survives the controller process (FakeExecutor.wait awaits the shared future unshielded)."""

    async def wait(step_key: str) -> StepExit:
        if step_key not in executor.exits:
            raise StepLost(step_key)
        return await asyncio.shield(executor.exits[step_key])

    executor.wait = wait  # type: ignore[method-assign]


async def crash_while(
    controller: Controller, text: str, node: str, *phases: str, succeeded: str | None = None
) -> str:
    """Close the controller once ``node`` is in one of ``phases`` (and ``succeeded`` has Succeeded)."""
    assert isinstance(controller.executor, FakeExecutor)
    shield_waits(controller.executor)
    record, wf_run = await start(controller, text)
    in_phase = node_in_phase(wf_run, node, *phases)
    done = node_in_phase(wf_run, succeeded, "Succeeded") if succeeded else lambda: True
    await until(lambda: in_phase() and done())
    await controller.close()
    return record.uid


async def resume(
    make_controller: MakeController, executor: FakeExecutor, uid: str, timeout: float = 10
) -> Result:
    controller = make_controller(executor)
    assert await controller.start() == 1
    phase = await asyncio.wait_for(controller.wait(uid), timeout)
    record = await controller.workflows.get_by_uid(uid)
    assert record is not None
    return Result(record, controller.runs[uid], phase)


async def test_resume_after_crash_does_not_rerun_finished_steps(
    controller: Controller, fake_executor: FakeExecutor, make_controller: MakeController
) -> None:
    uid = await crash_while(controller, CRASHY, "wf[1].B", "Running", succeeded="wf[1].B2")
    before = list(fake_executor.started)
    assert len(before) == 3  # A, B, B2
    r = await resume(make_controller, fake_executor, uid)
    assert r.phase == WorkflowPhase.SUCCEEDED, r.message
    # finished steps are not started again; the running one is reattached, not restarted
    assert fake_executor.started[:3] == before
    assert [k for k, n in Counter(fake_executor.started).items() if n > 1] == []
    assert len(fake_executor.started) == 4
    assert r.phase_of("wf[1].B") == "Succeeded"
    assert r.param("wf[2].C", "msg", "inputs") == "hello"
    # the restored tree keeps the IDs and links of the first run
    assert r.children("wf[1]") == ["wf[1].B", "wf[1].B2"]
    assert r.children("wf[1].B") == ["wf[2]"]
    stored = await stored_nodes(controller, uid)
    assert stored == {n.id: n.to_json() for n in r.run.tree}


async def test_resume_with_lost_step_errors_it(
    controller: Controller, fake_executor: FakeExecutor, make_controller: MakeController
) -> None:
    # B2 has finished first: on a loaded machine it could still be pending at the crash, and the
    # resumed controller would rightly start it on the fresh executor
    uid = await crash_while(controller, CRASHY, "wf[1].B", "Running", succeeded="wf[1].B2")
    fresh = FakeExecutor(rich_behaviour)  # the executor forgot everything: Argo's vanished pod
    r = await resume(make_controller, fresh, uid)
    assert r.summary("wf[1].B") == ("Pod", "Error", "pod deleted")
    assert r.summary("wf[1]") == (
        "StepGroup",
        "Error",
        "step group deemed errored due to child wf[1].B error: pod deleted",
    )
    assert r.phase == "Failed"
    assert fresh.started == []


async def test_resume_retries_a_lost_attempt(
    controller: Controller, fake_executor: FakeExecutor, make_controller: MakeController
) -> None:
    text = """
templates:
- name: main
  steps:
  - - {name: B, template: slow}
- name: slow
  retryStrategy: {limit: 2, retryPolicy: Always}
  container: {image: argosay, args: [sleep, "0.3"]}
"""
    uid = await crash_while(controller, text, "wf[0].B(0)", "Running")
    fresh = FakeExecutor(rich_behaviour)
    r = await resume(make_controller, fresh, uid)
    assert r.summary("wf[0].B(0)") == ("Pod", "Error", "pod deleted")
    assert r.phase_of("wf[0].B(1)") == "Succeeded"
    assert r.summary("wf[0].B") == ("Retry", "Succeeded", "")
    assert r.phase == "Succeeded"


async def test_resume_dag_mid_run(
    controller: Controller, fake_executor: FakeExecutor, make_controller: MakeController
) -> None:
    text = """
templates:
- name: main
  dag:
    tasks:
    - {name: A, template: echo}
    - {name: B, template: sleep, depends: A, arguments: {parameters: [{name: s, value: "0.3"}]}}
    - {name: C, template: echo, depends: A}
    - {name: D, template: echo, depends: B && C}
"""
    uid = await crash_while(controller, text, "wf.B", "Running")
    await until(lambda: len(fake_executor.started) == 3)
    r = await resume(make_controller, fake_executor, uid)
    assert r.phase == "Succeeded"
    assert len(fake_executor.started) == 4 and len(set(fake_executor.started)) == 4
    assert sorted(r.children("wf.B")) == ["wf.D"]


async def test_resume_suspended_node_then_resume_command(
    controller: Controller, fake_executor: FakeExecutor, make_controller: MakeController
) -> None:
    text = """
templates:
- name: main
  steps:
  - - {name: A, template: echo}
  - - {name: wait, template: wait}
  - - {name: C, template: echo}
- name: wait
  suspend: {}
"""
    uid = await crash_while(controller, text, "wf[1].wait", "Running")
    second = make_controller(fake_executor)
    assert await second.start() == 1
    await until(lambda: uid in second.runs and bool(second.runs[uid].active_suspend_nodes()))
    assert second.resume(uid) == 1
    phase = await asyncio.wait_for(second.wait(uid), 10)
    assert phase == "Succeeded"
    assert len(fake_executor.started) == 2 and len(set(fake_executor.started)) == 2


async def test_resume_keeps_stop_request(
    controller: Controller, fake_executor: FakeExecutor, make_controller: MakeController
) -> None:
    text = """
onExit: echo
templates:
- name: main
  steps:
  - - {name: wait, template: wait}
- name: wait
  suspend: {}
"""
    record, wf_run = await start(controller, text)
    await until(node_in_phase(wf_run, "wf[0].wait", "Running"))
    wf_run.stop("Stop")
    await controller.close()
    r = await resume(make_controller, fake_executor, record.uid, timeout=1)
    assert r.summary("wf[0].wait") == ("Suspend", "Failed", "Stopped with strategy 'Stop'")
    assert r.phase_of("wf.onExit") == "Succeeded"
    assert (r.phase, r.message) == ("Failed", "Stopped with strategy 'Stop'")


async def test_resume_kills_running_step_of_stopped_workflow(
    controller: Controller,
    fake_executor: FakeExecutor,
    make_controller: MakeController,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = """
templates:
- name: main
  steps:
  - - {name: A, template: sleep, arguments: {parameters: [{name: s, value: "30"}]}}
"""
    shield_waits(fake_executor)
    record, wf_run = await start(controller, text)
    await until(node_in_phase(wf_run, "wf[0].A", "Running"))
    real_kill = fake_executor.kill

    async def lost_kill(step_key: str, grace_seconds: float) -> None:
        return None  # the process went down before the kill reached the step

    monkeypatch.setattr(fake_executor, "kill", lost_kill)
    wf_run.stop("Stop")
    await controller.close()
    monkeypatch.setattr(fake_executor, "kill", real_kill)
    r = await resume(make_controller, fake_executor, record.uid, timeout=1)
    assert fake_executor.killed == fake_executor.started  # the surviving step is terminated
    assert r.summary("wf[0].A") == ("Pod", "Failed", "workflow shutdown with strategy:  Stop")
    assert (r.phase, r.message) == ("Failed", "Stopped with strategy 'Stop'")


async def test_resume_after_deadline_passed_while_down(
    controller: Controller, fake_executor: FakeExecutor, make_controller: MakeController
) -> None:
    text = """
activeDeadlineSeconds: 1
templates:
- name: main
  steps:
  - - {name: A, template: sleep, arguments: {parameters: [{name: s, value: "30"}]}}
    - {name: W, template: wait}
- name: wait
  suspend: {}
"""
    uid = await crash_while(controller, text, "wf[0].A", "Running")
    await asyncio.sleep(1.05)
    r = await resume(make_controller, fake_executor, uid, timeout=2)
    assert r.summary("wf[0].A") == ("Pod", "Failed", "Step exceeded its deadline")
    # the step still running from before the restart must be terminated, not abandoned
    assert [k for k in fake_executor.started if k in fake_executor.killed] == fake_executor.started
    assert r.summary("wf[0].W") == ("Suspend", "Failed", "Step exceeded its deadline")
    assert r.phase == "Failed"


ONE_STEP = """
templates:
- name: main
  container: {image: argosay, args: [echo, hi]}
"""


async def test_only_recent_finished_runs_stay_in_memory(
    controller: Controller, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(controller_module, "KEEP_FINISHED_RUNS", 2)
    uids = [(await run(controller, ONE_STEP, name=f"wf{i}")).record.uid for i in range(4)]
    assert set(controller.runs) == set(uids[2:])
    assert controller.load() == (0, 0)
    stored = await controller.workflows.get_by_uid(uids[0])
    assert stored is not None and stored.phase == "Succeeded"  # forgotten in memory, kept in the store


def _record(name: str, uid: str | None = None) -> WorkflowRecord:
    return WorkflowRecord(
        uid or f"uid-{name}", "default", name, {"metadata": {"name": name}}, "Pending", utcnow()
    )


async def test_concurrent_creates_share_a_transaction_with_their_lineage(stores: Stores) -> None:
    workflows, _ = stores
    engine = workflows._engine
    commits: list[object] = []

    def committed(connection: object) -> None:
        commits.append(connection)

    sa_event.listen(engine.sync_engine, "commit", committed)
    try:
        await asyncio.gather(
            *(
                workflows.create(_record(f"run-{n}"), [EventLink(n), EventLink(n), EventLink(100)])
                for n in range(20)
            )
        )
    finally:
        sa_event.remove(engine.sync_engine, "commit", committed)
    assert 1 <= len(commits) <= 2  # the first alone (nothing else was queued yet), then the rest
    assert [(await workflows.get("default", f"run-{n}")) is not None for n in range(20)] == [True] * 20
    assert await workflows_of_event(engine, 7) == ["uid-run-7"]
    assert await events_of_workflow(engine, "uid-run-7") == [7, 100]
    assert len(await workflows_of_event(engine, 100)) == 20


async def test_a_taken_name_fails_only_its_own_create(stores: Stores) -> None:
    workflows, _ = stores
    await workflows.create(_record("taken"))
    outcomes = await asyncio.gather(
        *(workflows.create(_record(f"run-{n}")) for n in range(5)),
        workflows.create(_record("taken", uid="another-uid"), [EventLink(3)]),
        return_exceptions=True,
    )
    assert outcomes[:5] == [None] * 5
    assert isinstance(outcomes[5], AlreadyExists)
    assert str(outcomes[5]) == 'workflows.argoproj.io "taken" already exists'
    assert [(await workflows.get("default", f"run-{n}")) is not None for n in range(5)] == [True] * 5
    assert await workflows.get_by_uid("another-uid") is None
    assert await workflows_of_event(workflows._engine, 3) == []
