"""The LocalExecutor with real isolation (overlay views in private mount namespaces) and real processes.

Needs root and overlayfs, like the executor itself.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from workflow_runtime.executors.base import ExecutorError, StepLost, StepSpec
from workflow_runtime.executors.local import sandbox
from workflow_runtime.executors.local.executor import LocalExecutor

pytestmark = pytest.mark.skipif(
    sandbox.isolation_problem() is not None, reason=f"no step isolation here: {sandbox.isolation_problem()}"
)

MakeExecutor = Callable[..., LocalExecutor]


@pytest.fixture
async def make_executor(tmp_path: Path) -> AsyncIterator[MakeExecutor]:
    """Executors with isolation on one root; the agent is stopped after the test."""
    created: list[LocalExecutor] = []

    def make(**kwargs: Any) -> LocalExecutor:
        executor = LocalExecutor(tmp_path / "executor", agent_idle_timeout=10.0, **kwargs)
        created.append(executor)
        return executor

    yield make
    for executor in created:
        await executor.stop_agent()
        await executor.close()


@pytest.fixture
async def executor(make_executor: MakeExecutor) -> LocalExecutor:
    return make_executor()


def sh(key: str, script: str, **fields: Any) -> StepSpec:
    return StepSpec(step_key=key, image="alpine:3.23", command=["sh", "-c", script], **fields)


async def run(executor: LocalExecutor, spec: StepSpec) -> int:
    await executor.start(spec)
    return (await asyncio.wait_for(executor.wait(spec.step_key), 30)).exit_code


async def wait_for_output(executor: LocalExecutor, key: str, text: bytes) -> None:
    for _ in range(500):
        if text in executor.read_log(key, "stdout"):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{key} never printed {text!r}")


async def test_exit_code_env_logs_and_working_dir(executor: LocalExecutor) -> None:
    spec = sh(
        "wf/basic", 'pwd; echo "$WHO"; echo oops >&2; exit 3', env={"WHO": "me"}, working_dir="/src/app"
    )
    assert await run(executor, spec) == 3
    assert executor.read_log("wf/basic", "stdout") == b"/src/app\nme\n"
    assert executor.read_log("wf/basic", "stderr") == b"oops\n"
    assert executor.read_log("wf/basic", "stdout", tail_bytes=3) == b"me\n"
    assert not Path("/src/app").exists()


async def test_script_and_input_files_are_staged(executor: LocalExecutor) -> None:
    spec = StepSpec(
        "wf/script",
        "python:alpine3.23",
        ["python3"],
        ["/argo/staging/script"],
        files={
            "/argo/staging/script": b"print(open('/tmp/inputs/data').read().upper())",
            "/tmp/inputs/data": b"x",
        },
    )
    assert await run(executor, spec) == 0
    assert executor.read_log("wf/script", "stdout") == b"X\n"
    assert not Path("/argo/staging/script").exists()


async def test_input_paths_are_copied_in_and_a_directory_hides_the_hosts(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    """Input artifacts: host files and trees appear at their paths, like a volume mounted there."""
    host_dir = Path("/var/tmp") / f"tf-{uuid.uuid4().hex}"
    (host_dir / "sub").mkdir(parents=True)
    (host_dir / "host-only").write_text("host")
    try:
        tree = tmp_path / "tree"
        (tree / "sub").mkdir(parents=True)
        (tree / "sub" / "f").write_text("artifact\n")
        single = tmp_path / "one.txt"
        single.write_text("one\n")
        script = f"ls {host_dir}; cat {host_dir}/sub/f /tmp/in/one.txt; echo changed > {host_dir}/sub/f"
        spec = sh("wf/inputs", script, input_paths={str(host_dir): tree, "/tmp/in/one.txt": single})
        assert await run(executor, spec) == 0
        assert executor.read_log("wf/inputs", "stdout") == b"sub\nartifact\none\n"
        assert (tree / "sub" / "f").read_text() == "artifact\n"  # the step changed its own copy
        assert sorted(p.name for p in host_dir.iterdir()) == ["host-only", "sub"]
    finally:
        shutil.rmtree(host_dir)


async def test_parallel_steps_have_private_tmp(executor: LocalExecutor) -> None:
    name = f"/tmp/tf-{uuid.uuid4().hex}"
    specs = [sh(f"wf/p{i}", f"echo {i} > {name}; sleep 0.2; cat {name}") for i in range(2)]
    for spec in specs:
        await executor.start(spec)
    for i, spec in enumerate(specs):
        assert (await executor.wait(spec.step_key)).exit_code == 0
        assert executor.read_log(spec.step_key, "stdout") == f"{i}\n".encode()
        assert executor.read_file(spec.step_key, name) == f"{i}\n".encode()
    assert not Path(name).exists()


async def test_writes_and_deletes_anywhere_stay_private(executor: LocalExecutor) -> None:
    marker = f"/etc/tf-{uuid.uuid4().hex}"
    script = f"mkdir -p /mnt/out && echo y > /mnt/out/y && echo m > {marker} && rm /etc/debian_version"
    assert await run(executor, sh("wf/private", script)) == 0
    assert not Path("/mnt/out/y").exists()
    assert not Path(marker).exists()
    assert Path("/etc/debian_version").exists()
    assert executor.read_file("wf/private", "/mnt/out/y") == b"y\n"
    assert executor.read_file("wf/private", "/etc/debian_version") is None
    assert executor.read_file("wf/private", "/etc/hostname") == Path("/etc/hostname").read_bytes()
    out = executor.materialize("wf/private", "/mnt/out")
    assert out is not None and (out / "y").read_text() == "y\n"
    etc = executor.materialize("wf/private", "/etc")  # upper and lower: a merged copy
    assert etc is not None and etc != Path("/etc")
    assert (etc / marker.split("/")[-1]).read_text() == "m\n"
    assert not (etc / "debian_version").exists() and (etc / "hostname").exists()


async def test_the_view_has_dev_proc_and_the_tools(executor: LocalExecutor) -> None:
    script = "test -c /dev/null && test -r /proc/self/status && ls /sys/kernel >/dev/null && argosay echo ok"
    assert await run(executor, sh("wf/view", script)) == 0
    assert executor.read_log("wf/view", "stdout") == b"ok\n"


async def test_kill_with_grace(executor: LocalExecutor) -> None:
    await executor.start(sh("wf/stubborn", "trap '' TERM; echo ready; sleep 30"))
    await executor.start(sh("wf/plain", "echo ready; exec sleep 30"))
    await wait_for_output(executor, "wf/stubborn", b"ready")
    await wait_for_output(executor, "wf/plain", b"ready")
    began = asyncio.get_running_loop().time()
    await executor.kill("wf/stubborn", grace_seconds=0.5)
    await executor.kill("wf/plain", grace_seconds=0.5)
    plain = await asyncio.wait_for(executor.wait("wf/plain"), 10)
    stubborn = await asyncio.wait_for(executor.wait("wf/stubborn"), 10)
    assert (plain.exit_code, plain.reason) == (143, "Killed")
    assert (stubborn.exit_code, stubborn.reason) == (137, "Killed")
    assert stubborn.message == "terminated by signal SIGKILL"
    assert asyncio.get_running_loop().time() - began >= 0.5


async def test_a_kill_right_after_start_is_not_lost(executor: LocalExecutor) -> None:
    """SIGTERM sent while the step's namespace init is still setting up (no handler yet, so the kernel
    would drop it) must end the step at once, not after the grace period."""
    keys = [f"wf/early-{n}" for n in range(20)]
    for key in keys:
        await executor.start(sh(key, "exec sleep 30"))
        await executor.kill(key, grace_seconds=60)
    exits = await asyncio.wait_for(asyncio.gather(*(executor.wait(key) for key in keys)), 20)
    assert {(e.exit_code, e.reason) for e in exits} == {(143, "Killed")}


async def test_image_table_and_argosay(executor: LocalExecutor) -> None:
    assert (
        await run(executor, StepSpec("wf/v2", "argoproj/argosay:v2", [], ["echo", "hello", "/tmp/message"]))
        == 0
    )
    assert executor.read_file("wf/v2", "/tmp/message") == b"hello\n"
    assert await run(executor, StepSpec("wf/hi", "argoproj/argosay:v2", [])) == 0
    assert executor.read_log("wf/hi", "stdout") == b"hello argo\n"
    assert await run(executor, StepSpec("wf/exit", "argoproj/argosay:v2", [], ["exit", "1"])) == 1
    script = "argosay echo abc /tmp/f && argosay assert_contains /tmp/f b && argosay cat /tmp/f /tmp/f"
    assert await run(executor, StepSpec("wf/cat", "argoproj/argosay:v1", ["sh", "-c"], [script])) == 0
    assert executor.read_log("wf/cat", "stdout") == b"abc\nabc\n"
    assert (
        await run(executor, StepSpec("wf/nope", "argoproj/argosay:v2", [], ["assert_exists", "/nope"])) == 1
    )
    with pytest.raises(ExecutorError, match="'unknown/image:1' is not in"):
        await executor.start(StepSpec("wf/unknown", "unknown/image:1", []))


async def test_setup_and_exec_failures_are_reported(executor: LocalExecutor) -> None:
    await executor.start(StepSpec("wf/missing", "alpine", ["definitely-not-installed"]))
    missing = await executor.wait("wf/missing")
    assert (missing.exit_code, missing.reason) == (127, "Error")
    assert "definitely-not-installed" in missing.message
    await executor.start(sh("wf/badcwd", "true", working_dir="/proc/self/nope"))
    bad = await executor.wait("wf/badcwd")
    assert bad.exit_code == 125
    assert bad.message.startswith("step setup failed:")


async def test_finished_steps_lose_overlay_scratch_but_keep_outputs(executor: LocalExecutor) -> None:
    assert await run(executor, sh("wf/clean", "echo out > /tmp/o; mkdir -p /out && echo a > /out/a")) == 0
    step_dir = executor.root / "steps" / "wf" / "clean"
    assert not (step_dir / "work").exists() and not (step_dir / "root").exists()  # the agent removed them
    await executor.cleanup("wf/clean")
    assert not (step_dir / "work").exists() and not (step_dir / "root").exists()
    assert executor.read_file("wf/clean", "/out/a") == b"a\n"
    assert executor.read_file("wf/clean", "/tmp/o") == b"out\n"


async def test_hub_restart_reattaches(make_executor: MakeExecutor) -> None:
    first = make_executor()
    await first.start(sh("wf/survivor", "sleep 0.5; exit 6"))
    await first.close()
    del first
    second = make_executor()
    assert (await asyncio.wait_for(second.wait("wf/survivor"), 10)).exit_code == 6


async def test_steps_survive_a_hub_killed_with_sigkill(make_executor: MakeExecutor, tmp_path: Path) -> None:
    hub = textwrap.dedent(
        f"""
        import asyncio, os, signal
        from workflow_runtime.executors.base import StepSpec
        from workflow_runtime.executors.local.executor import LocalExecutor

        async def main():
            executor = LocalExecutor({str(tmp_path / "executor")!r}, agent_idle_timeout=10.0)
            await executor.start(StepSpec("wf/orphan", "alpine", ["sh", "-c", "sleep 0.5; exit 8"]))
            os.kill(os.getpid(), signal.SIGKILL)

        asyncio.run(main())
        """
    )
    process = subprocess.run([sys.executable, "-c", hub], capture_output=True, timeout=30)
    assert process.returncode == -signal.SIGKILL, process.stderr.decode()
    executor = make_executor()
    result = await asyncio.wait_for(executor.wait("wf/orphan"), 10)
    assert result.exit_code == 8


async def test_killed_agent_means_lost_steps_and_dead_processes(executor: LocalExecutor) -> None:
    marker = f"1000.{uuid.uuid4().int % 10**9}"  # a sleep argument no other process has
    await executor.start(sh("wf/victim", f"setsid sleep {marker} & sleep {marker}; wait"))
    await _wait_until(lambda: len(_processes_running(marker)) == 2)
    agent_pid = int((executor.root / "agent.pid").read_text())
    os.kill(agent_pid, signal.SIGKILL)
    with pytest.raises(StepLost, match="exited while it ran"):
        await asyncio.wait_for(executor.wait("wf/victim"), 10)
    await _wait_until(lambda: not _processes_running(marker))  # grandchildren and daemons too
    with pytest.raises(StepLost, match="launched as pid"):
        await executor.wait("wf/victim")
    assert await run(executor, sh("wf/after", "true")) == 0  # a new agent takes over the root


async def test_leftovers_die_with_the_command(executor: LocalExecutor) -> None:
    marker = f"1000.{uuid.uuid4().int % 10**9}"
    assert await run(executor, sh("wf/daemonizer", f"setsid sleep {marker} & sleep 0.1")) == 0
    await _wait_until(lambda: not _processes_running(marker))


async def test_the_step_sees_only_its_own_processes(executor: LocalExecutor) -> None:
    assert await run(executor, sh("wf/ps", "echo $$; ls /proc | grep -c '^[0-9]'")) == 0
    shell_pid, visible = executor.read_log("wf/ps", "stdout").split()
    assert shell_pid == b"2"  # pid 1 is the step's init
    assert int(visible) <= 4  # init, sh, ls, grep


async def _wait_until(condition: Callable[[], bool]) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never became true")


def _processes_running(marker: str) -> list[int]:
    """Host pids of live (not zombie) processes whose command line mentions ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmdline and state != "Z" and b"sh\x00-c" not in cmdline:
            found.append(int(entry))
    return found
