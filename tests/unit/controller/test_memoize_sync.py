"""Memoization (``memoize``) and synchronization (mutexes, semaphores) of templates and workflows."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from tests.support.fake_executor import FakeExecutor, Outcome
from triggerfish.store.memo import CacheEntry, MemoStore
from triggerfish.store.resources import ResourceStore
from triggerfish.store.workflows import WorkflowStore
from workflow_runtime.controller.controller import Controller
from workflow_runtime.controller.run import RunSettings
from workflow_runtime.controller.sync import SyncManager
from workflow_runtime.executors.base import StepSpec
from workflow_runtime.state import utcnow

from .conftest import rich_behaviour
from .helpers import ConcurrencyProbe, finish, manifest, node_in_phase, run, start, until


@pytest.fixture
async def memo(stores: tuple[WorkflowStore, ResourceStore]) -> MemoStore:
    return MemoStore(stores[0]._engine)


@pytest.fixture
async def controller(
    stores: tuple[WorkflowStore, ResourceStore], fake_executor: FakeExecutor, memo: MemoStore
) -> AsyncIterator[Controller]:
    """A controller with a memoization cache and a semaphore ``my-config/workflows`` of limit 2."""
    workflows, resources = stores
    controller = Controller(
        workflows,
        resources,
        fake_executor,
        RunSettings(kill_grace_seconds=0.1),
        memo=memo,
        sync=SyncManager({"my-config/workflows": 2}),
    )
    await controller.start()
    yield controller
    await controller.close()


class Counter:
    """The rich fake behaviour, counting how many steps started."""

    def __init__(self) -> None:
        self.started: list[str] = []

    def __call__(self, spec: StepSpec) -> Outcome:
        self.started.append(" ".join([*spec.command, *spec.args]))
        return rich_behaviour(spec)


@pytest.fixture
def counter(fake_executor: FakeExecutor) -> Counter:
    behaviour = Counter()
    fake_executor.behaviour = behaviour
    return behaviour


MEMOIZED = """
arguments: {parameters: [{name: msg, value: hi}]}
templates:
- name: main
  steps:
  - - name: cached
      template: remember
      arguments: {parameters: [{name: msg, value: "{{workflow.parameters.msg}}"}]}
  - - name: after
      template: echo
      arguments: {parameters: [{name: msg, value: "{{steps.cached.outputs.result}}"}]}
- name: remember
  inputs: {parameters: [{name: msg}]}
  memoize:
    key: "say-{{inputs.parameters.msg}}"
    maxAge: "%s"
    cache: {configMap: {name: my-cache}}
  container: {image: argosay, args: [echo, "{{inputs.parameters.msg}}"]}
"""


def memoized(max_age: str = "1h", msg: str = "hi", name: str = "wf") -> dict[str, Any]:
    doc = manifest(MEMOIZED % max_age, name=name)
    doc["spec"]["arguments"]["parameters"][0]["value"] = msg
    return doc


async def test_first_run_misses_and_fills_the_cache(
    controller: Controller, counter: Counter, memo: MemoStore
) -> None:
    result = await run(controller, memoized())
    assert result.phase == "Succeeded"
    node = result.node("wf[0].cached")
    assert node.memoization_status == {"hit": False, "key": "say-hi", "cacheName": "my-cache"}
    entry = await memo.lookup("default", "my-cache", "say-hi")
    assert entry is not None and entry.outputs["result"] == "hi" and entry.workflow == "wf"


async def test_a_later_run_with_the_same_key_reuses_the_outputs_without_running(
    controller: Controller, counter: Counter
) -> None:
    await run(controller, memoized(name="first"))
    counter.started.clear()
    second = await run(controller, memoized(name="second"))
    assert second.phase == "Succeeded"
    node = second.node("second[0].cached")
    assert node.memoization_status == {"hit": True, "key": "say-hi", "cacheName": "my-cache"}
    assert node.phase.value == "Succeeded" and node.outputs == {"result": "hi", "exitCode": "0"}
    assert counter.started == ["echo hi"]  # only ``after`` ran, fed by the cached result
    assert second.printed("second[1].after") == "hi"


async def test_a_different_key_misses(controller: Controller, counter: Counter) -> None:
    await run(controller, memoized(name="first", msg="one"))
    second = await run(controller, memoized(name="second", msg="two"))
    assert second.node("second[0].cached").memoization_status["hit"] is False  # type: ignore[index]
    assert counter.started.count("echo two") == 2


async def test_an_entry_older_than_max_age_is_not_used(
    controller: Controller, counter: Counter, memo: MemoStore
) -> None:
    stale = CacheEntry({"result": "stale"}, "old-node", "old", utcnow() - timedelta(minutes=10))
    await memo.save("default", "my-cache", "say-hi", stale)
    result = await run(controller, memoized(max_age="5m"))
    node = result.node("wf[0].cached")
    assert node.memoization_status["hit"] is False  # type: ignore[index]
    assert (node.outputs or {})["result"] == "hi"
    refreshed = await memo.lookup("default", "my-cache", "say-hi")
    assert refreshed is not None and refreshed.workflow == "wf"  # the new success replaced it


async def test_a_failed_node_is_not_cached(controller: Controller, memo: MemoStore) -> None:
    text = """
templates:
- name: main
  memoize: {key: broken, cache: {configMap: {name: my-cache}}}
  container: {image: argosay, args: [fail]}
"""
    result = await run(controller, text)
    assert result.phase == "Failed"
    assert await memo.lookup("default", "my-cache", "broken") is None


MUTEX = """
templates:
- name: main
  steps:
  - - {name: a, template: locked, arguments: {parameters: [{name: s, value: "0.3"}]}}
    - {name: b, template: locked, arguments: {parameters: [{name: s, value: "0.3"}]}}
- name: locked
  inputs: {parameters: [{name: s}]}
  synchronization: {mutex: {name: deploy}}
  container: {image: argosay, args: [say, done, "{{inputs.parameters.s}}"]}
"""


async def test_a_mutex_lets_one_step_run_at_a_time_and_says_who_waits(
    controller: Controller, counter: Counter, fake_executor: FakeExecutor
) -> None:
    probe = ConcurrencyProbe(fake_executor)
    record, wf_run = await start(controller, MUTEX)
    await until(lambda: any(n.synchronization_status for n in wf_run.tree))
    waiting = next(n for n in wf_run.tree if n.synchronization_status)
    assert waiting.phase.value == "Pending"
    assert waiting.synchronization_status == {"waiting": "default/Mutex/deploy"}
    assert waiting.message == "Waiting for default/Mutex/deploy lock. Lock status: 1/1"
    assert len(counter.started) == 1
    result = await finish(controller, record)
    assert result.phase == "Succeeded"
    assert probe.max_active == 1
    for name in ("wf[0].a", "wf[0].b"):
        assert result.node(name).synchronization_status is None and result.node(name).message == ""
    assert len(counter.started) == 2


async def test_a_semaphore_admits_up_to_its_limit(
    controller: Controller, counter: Counter, fake_executor: FakeExecutor
) -> None:
    probe = ConcurrencyProbe(fake_executor)
    text = """
templates:
- name: main
  steps:
  - - {name: s, template: limited, withSequence: {count: "5"}}
- name: limited
  synchronization:
    semaphores: [{configMapKeyRef: {name: my-config, key: workflows}}]
  container: {image: argosay, args: [say, x, "1"]}
"""
    record, wf_run = await start(controller, text)

    def two_running_three_waiting() -> bool:
        waiting = sum(1 for n in wf_run.tree if n.synchronization_status)
        return waiting == 3 and len(counter.started) == 2

    await until(two_running_three_waiting)
    messages = {n.message for n in wf_run.tree if n.synchronization_status}
    assert messages == {"Waiting for default/ConfigMap/my-config/workflows lock. Lock status: 2/2"}
    assert (await finish(controller, record)).phase == "Succeeded"
    assert len(counter.started) == 5 and probe.max_active == 2


async def test_a_semaphore_without_a_configured_limit_is_an_error(controller: Controller) -> None:
    text = """
templates:
- name: main
  synchronization:
    semaphores: [{configMapKeyRef: {name: nowhere, key: k}}]
  container: {image: argosay, args: [echo, x]}
"""
    result = await run(controller, text)
    assert result.phase == "Error"
    assert "no limit configured for semaphore nowhere/k" in result.node("wf").message


async def test_workflow_level_mutex_queues_whole_workflows(controller: Controller) -> None:
    def locked(name: str) -> dict[str, Any]:
        doc = manifest(
            "templates:\n- name: main\n  container: {image: argosay, args: [say, x, '0.3']}", name=name
        )
        doc["spec"]["synchronization"] = {"mutex": {"name": "nightly"}}
        return doc

    first, first_run = await start(controller, locked("first"))
    await until(node_in_phase(first_run, "first", "Running"))
    second, second_run = await start(controller, locked("second"))
    await until(lambda: second_run.phase.value == "Pending" and second_run.message != "")
    assert second_run.message == "Waiting for default/Mutex/nightly lock. Lock status: 1/1"
    assert second_run.tree.by_name("second") is None  # nothing of it has started
    summary = first_run.status_summary()
    assert summary["synchronization"] == {
        "holding": [{"lock": "default/Mutex/nightly", "holders": [first.uid]}]
    }
    assert (await finish(controller, first)).phase == "Succeeded"
    assert (await finish(controller, second)).phase == "Succeeded"


async def test_a_stopped_waiter_gives_up_its_place(controller: Controller) -> None:
    sync = controller.sync
    assert sync.try_acquire("default/Mutex/m", "one")
    waiter = asyncio.create_task(sync.acquire("default/Mutex/m", "two"))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    sync.release("default/Mutex/m", "one")
    assert sync.status("default/Mutex/m") == (0, 1)  # "two" was not granted after leaving
