"""LocalExecutor behaviour that does not depend on isolation, with real processes and a real agent
(isolation='none', so these run without root).  Isolation itself: tests/integration."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from workflow_runtime.executors.base import ExecutorError, StepLost, StepSpec
from workflow_runtime.executors.local import sandbox
from workflow_runtime.executors.local.executor import LocalExecutor

MakeExecutor = Callable[..., LocalExecutor]  # the make_executor fixture (conftest.py)


def sh(key: str, script: str, **fields: object) -> StepSpec:
    return StepSpec(step_key=key, image="alpine", command=["/bin/sh", "-c", script], **fields)  # type: ignore[arg-type]


async def test_exit_code_env_and_logs(make_executor: MakeExecutor) -> None:
    executor = make_executor()
    await executor.start(sh("wf/a", 'echo "out $GREETING"; echo err >&2; exit 7', env={"GREETING": "hi"}))
    result = await executor.wait("wf/a")
    assert (result.exit_code, result.reason) == (7, "Error")
    assert result.started_at <= result.finished_at
    assert executor.read_log("wf/a", "stdout") == b"out hi\n"
    assert executor.read_log("wf/a", "stderr") == b"err\n"
    assert executor.read_log("wf/a", "stdout", tail_bytes=3) == b"hi\n"
    assert executor.read_log("wf/a", "stdout", tail_bytes=100) == b"out hi\n"
    assert executor.read_log("wf/never", "stdout") == b""


async def test_step_environment_is_not_the_hubs(
    make_executor: MakeExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_SECRET", "leak")
    executor = make_executor()
    script = 'echo "[$HUB_SECRET]"; echo "$PATH"'
    spec = StepSpec(
        step_key="wf/env", image="debian", command=["/bin/sh", "-c", script], env={"PATH": "/opt/bin"}
    )
    await executor.start(spec)
    assert (await executor.wait("wf/env")).exit_code == 0
    secret, path = executor.read_log("wf/env", "stdout").decode().splitlines()
    assert secret == "[]"
    assert path == f"/opt/bin:{Path(sys.executable).parent}"


async def test_alpine_steps_get_busybox_userland_first(make_executor: MakeExecutor) -> None:
    executor = make_executor()
    script = 'echo "$PATH"; [ -n "$RANDOM" ] && echo has-random'  # dash, the host's sh, has no $RANDOM
    await executor.start(StepSpec(step_key="wf/ash", image="alpine:3.23", command=["sh", "-c", script]))
    assert (await executor.wait("wf/ash")).exit_code == 0
    output = executor.read_log("wf/ash", "stdout").decode()
    path, random = output.splitlines()
    assert path.split(":")[0] == f"{sys.prefix}/share/triggerfish/toolbox/busybox"
    assert random == "has-random"


async def test_working_dir_is_created(make_executor: MakeExecutor, tmp_path: Path) -> None:
    executor = make_executor()
    workdir = tmp_path / "work" / "dir"
    await executor.start(sh("wf/cwd", "pwd", working_dir=str(workdir)))
    assert (await executor.wait("wf/cwd")).exit_code == 0
    assert executor.read_log("wf/cwd", "stdout") == f"{workdir}\n".encode()


async def test_stdin_and_files_are_staged(make_executor: MakeExecutor, tmp_path: Path) -> None:
    executor = make_executor()
    script = tmp_path / "staging" / "script"
    spec = StepSpec(
        "wf/in", "alpine", ["sh", str(script)], stdin=b"piped", files={str(script): b"cat; echo !"}
    )
    await executor.start(spec)
    assert (await executor.wait("wf/in")).exit_code == 0
    assert executor.read_log("wf/in", "stdout") == b"piped!\n"


async def test_image_table_resolves_argosay(make_executor: MakeExecutor, tmp_path: Path) -> None:
    executor = make_executor()
    target = tmp_path / "said"
    await executor.start(StepSpec("wf/say", "argoproj/argosay:v2", [], ["echo", "hello", str(target)]))
    assert (await executor.wait("wf/say")).exit_code == 0
    assert target.read_text() == "hello\n"
    await executor.start(StepSpec("wf/fail", "docker.io/argoproj/argosay:v2", [], ["exit", "4"]))
    assert (await executor.wait("wf/fail")).exit_code == 4


async def test_unknown_image_fails_before_anything_runs(make_executor: MakeExecutor) -> None:
    executor = make_executor(images={"mine": {"entrypoint": ["true"]}})
    with pytest.raises(ExecutorError, match="'someone/else:1' is not in"):
        await executor.start(StepSpec("wf/x", "someone/else:1", []))
    await executor.start(StepSpec("wf/y", "mine:3", []))
    assert (await executor.wait("wf/y")).exit_code == 0
    assert not (executor.root / "steps" / "wf" / "x").exists()


async def test_missing_program_exits_127_with_a_message(make_executor: MakeExecutor) -> None:
    executor = make_executor()
    await executor.start(StepSpec("wf/nf", "alpine", ["no-such-program-anywhere"]))
    result = await executor.wait("wf/nf")
    assert result.exit_code == sandbox.EXIT_NOT_FOUND
    assert result.message == "cannot run 'no-such-program-anywhere': No such file or directory"
    assert b"no-such-program-anywhere" in executor.read_log("wf/nf", "stderr")


async def test_kill_terminates_the_process_group(make_executor: MakeExecutor) -> None:
    executor = make_executor()
    await executor.start(sh("wf/k", "sleep 30 & sleep 30; echo never"))
    await executor.kill("wf/k", grace_seconds=5)
    result = await asyncio.wait_for(executor.wait("wf/k"), 5)
    assert (result.exit_code, result.reason) == (143, "Killed")
    assert result.message == "terminated by signal SIGTERM"
    await executor.kill("wf/k", grace_seconds=1)  # already ended: no-op


async def test_leftover_processes_die_with_the_step(make_executor: MakeExecutor) -> None:
    executor = make_executor()
    await executor.start(sh("wf/bg", "sleep 30 & echo $!"))
    assert (await executor.wait("wf/bg")).exit_code == 0
    background = int(executor.read_log("wf/bg", "stdout"))
    for _ in range(100):
        if not _alive(background):
            break
        await asyncio.sleep(0.02)
    assert not _alive(background)


async def test_parallelism_limit_makes_starts_wait(make_executor: MakeExecutor) -> None:
    executor = make_executor(max_parallel_steps=1)
    await executor.start(sh("wf/first", "sleep 0.3"))
    second = asyncio.create_task(executor.start(sh("wf/second", "true")))
    await asyncio.sleep(0.1)
    assert not second.done()
    first = await executor.wait("wf/first")
    await asyncio.wait_for(second, 5)
    assert (await executor.wait("wf/second")).started_at >= first.finished_at


async def test_starting_a_launched_step_again_reattaches_instead_of_rerunning(
    make_executor: MakeExecutor, tmp_path: Path
) -> None:
    executor = make_executor()
    counter = tmp_path / "runs"
    await executor.start(sh("wf/once", f"echo run >> {counter}"))
    await executor.start(sh("wf/once", f"echo run >> {counter}"))
    first = await executor.wait("wf/once")
    await executor.start(sh("wf/once", f"echo run >> {counter}"))
    assert (await executor.wait("wf/once")) == first
    assert counter.read_text() == "run\n"


async def test_step_keys_are_validated(make_executor: MakeExecutor) -> None:
    executor = make_executor()
    with pytest.raises(ExecutorError, match="invalid step key"):
        await executor.start(sh("../escape", "true"))


async def test_wait_on_unknown_steps_raises_step_lost(make_executor: MakeExecutor) -> None:
    executor = make_executor()
    with pytest.raises(StepLost, match="no agent runs"):
        await executor.wait("wf/ghost")
    await executor.start(sh("wf/real", "true"))
    with pytest.raises(StepLost, match="the agent does not know it"):
        await executor.wait("wf/ghost")


async def test_concurrent_waits_share_the_outcome(make_executor: MakeExecutor) -> None:
    first = make_executor()
    await first.start(sh("wf/shared", "sleep 0.2; exit 4"))
    other = make_executor()
    both = await asyncio.wait_for(asyncio.gather(other.wait("wf/shared"), other.wait("wf/shared")), 5)
    assert [result.exit_code for result in both] == [4, 4]
    ghosts = [other.wait("wf/ghost"), other.wait("wf/ghost")]
    lost = await asyncio.wait_for(asyncio.gather(*ghosts, return_exceptions=True), 5)
    assert all(isinstance(outcome, StepLost) for outcome in lost)


async def test_wait_after_the_exit_reads_the_record(make_executor: MakeExecutor) -> None:
    executor = make_executor()
    await executor.start(sh("wf/twice", "exit 5"))
    assert (await executor.wait("wf/twice")).exit_code == 5
    assert (await executor.wait("wf/twice")).exit_code == 5  # from exit.json this time
    other = make_executor()
    assert (await other.wait("wf/twice")).exit_code == 5


async def test_cleanup_refuses_running_steps_and_keeps_logs(make_executor: MakeExecutor) -> None:
    executor = make_executor()
    await executor.start(sh("wf/c", "echo kept; sleep 0.3"))
    with pytest.raises(ExecutorError, match="still running"):
        await executor.cleanup("wf/c")
    assert (await executor.wait("wf/c")).exit_code == 0
    await executor.cleanup("wf/c")
    assert executor.read_log("wf/c", "stdout") == b"kept\n"


async def test_hub_restart_reattaches(make_executor: MakeExecutor) -> None:
    first = make_executor()
    await first.start(sh("wf/long", "sleep 0.5; exit 9"))
    await first.close()
    second = make_executor()
    assert (await second.wait("wf/long")).exit_code == 9


async def test_stopping_the_agent_loses_running_steps(make_executor: MakeExecutor) -> None:
    executor = make_executor()
    await executor.start(sh("wf/doomed", "sleep 30 & echo $!; wait"))
    for _ in range(500):
        if executor.read_log("wf/doomed", "stdout"):
            break
        await asyncio.sleep(0.01)
    grandchild = int(executor.read_log("wf/doomed", "stdout"))
    waiting = asyncio.create_task(executor.wait("wf/doomed"))
    await executor.stop_agent()
    with pytest.raises(StepLost, match="agent exited while it ran"):
        await waiting
    with pytest.raises(StepLost, match="no agent runs"):
        await make_executor().wait("wf/doomed")
    for _ in range(100):
        if not _alive(grandchild):
            break
        await asyncio.sleep(0.02)
    assert not _alive(grandchild), "a step process outlived the agent's shutdown"


async def test_agent_exits_when_idle(make_executor: MakeExecutor) -> None:
    executor = make_executor(agent_idle_timeout=0.2)
    await executor.start(sh("wf/quick", "true"))
    await executor.wait("wf/quick")
    pid = int((executor.root / "agent.pid").read_text())
    await executor.close()
    for _ in range(200):
        if not _alive(pid):
            break
        await asyncio.sleep(0.02)
    assert not _alive(pid)
    assert not (executor.root / "agent.sock").exists()
    # the next start launches a new agent
    await executor.start(sh("wf/again", "true"))
    assert (await executor.wait("wf/again")).exit_code == 0


async def test_a_long_root_path_still_reaches_the_agent(make_executor: MakeExecutor, tmp_path: Path) -> None:
    root = tmp_path / ("r" * 60) / ("s" * 60)
    executor = make_executor(root=root)
    await executor.start(sh("wf/long-root", "true"))
    assert (await executor.wait("wf/long-root")).exit_code == 0


def test_overlay_isolation_needs_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(ExecutorError) as raised:
        LocalExecutor(tmp_path)
    assert "needs root (this process runs as uid 1000)" in str(raised.value)
    assert "isolation='none'" in str(raised.value)
    LocalExecutor(tmp_path, isolation="none")


def _alive(pid: int) -> bool:
    """Running, as opposed to gone or a zombie awaiting its reaper."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
