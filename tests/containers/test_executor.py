"""The ContainerExecutor over real podman and docker: every test runs once per engine."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.containers.conftest import MakeExecutor
from tests.support.containers import EngineUnderTest
from workflow_runtime.executors.base import ExecutorError, StepSpec
from workflow_runtime.executors.container.executor import ContainerExecutor

WAIT = 60.0


def sh(key: str, script: str, **fields: Any) -> StepSpec:
    return StepSpec(step_key=key, image="alpine:3.23", command=["sh", "-c", script], **fields)


async def run(executor: ContainerExecutor, spec: StepSpec) -> int:
    await executor.start(spec)
    return (await asyncio.wait_for(executor.wait(spec.step_key), WAIT)).exit_code


async def wait_for_output(executor: ContainerExecutor, key: str, text: bytes) -> None:
    for _ in range(600):
        if text in executor.read_log(key, "stdout"):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{key} never printed {text!r}")


def container_exists(engine: EngineUnderTest, executor: ContainerExecutor, key: str) -> bool:
    return engine.run("container", "inspect", executor.container_name(key)).returncode == 0


async def test_command_args_env_working_dir_stdin_and_logs(executor: ContainerExecutor) -> None:
    script = 'pwd; echo "$WHO"; echo "$1"; cat; echo oops >&2; echo made > here; exit 3'
    spec = StepSpec(
        "wf/basic",
        "alpine:3.23",
        ["sh", "-c", script],
        ["sh", "arg one"],
        env={"WHO": "me, myself"},
        working_dir="/src/app",  # not in the image: made for the step
        stdin=b"from stdin\n",
        output_paths=("/src/app/here",),
    )
    await executor.start(spec)
    result = await asyncio.wait_for(executor.wait("wf/basic"), WAIT)
    assert (result.exit_code, result.reason) == (3, "Error")
    assert result.started_at <= result.finished_at
    assert executor.read_log("wf/basic", "stdout") == b"/src/app\nme, myself\narg one\nfrom stdin\n"
    assert executor.read_log("wf/basic", "stderr") == b"oops\n"
    assert executor.read_log("wf/basic", "stdout", tail_bytes=11) == b"from stdin\n"
    assert executor.read_file("wf/basic", "/src/app/here") == b"made\n"
    assert await run(executor, sh("wf/etc", "pwd; test -s passwd", working_dir="/etc")) == 0  # in the image


async def test_image_entrypoint_and_cmd(executor: ContainerExecutor) -> None:
    """No command: the image's entrypoint (with args, or its cmd); a command drops the image's cmd."""
    steps = {
        "wf/args": StepSpec(
            "wf/args",
            "argoproj/argosay:v2",
            [],
            ["echo", "hello", "/tmp/message"],
            output_paths=("/tmp/message",),
        ),
        "wf/default": StepSpec("wf/default", "argoproj/argosay:v2", []),
        "wf/cmd": StepSpec("wf/cmd", "argoproj/argosay:v1", []),
        "wf/command": StepSpec("wf/command", "argoproj/argosay:v1", ["echo"]),
    }
    for spec in steps.values():
        await executor.start(spec)
    results = {key: await asyncio.wait_for(executor.wait(key), WAIT) for key in steps}
    assert {key: result.exit_code for key, result in results.items()} == dict.fromkeys(steps, 0)
    assert executor.read_file("wf/args", "/tmp/message") == b"hello\n"
    assert executor.read_log("wf/default", "stdout") == b"hello argo\n"
    assert b"(oo)" in executor.read_log("wf/cmd", "stdout")  # the image cmd: cowsay
    assert executor.read_log("wf/command", "stdout") == b"\n"


async def test_files_inputs_and_outputs(executor: ContainerExecutor, tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    (inputs / "sub").mkdir(parents=True)
    (inputs / "sub" / "a").write_text("a")
    script = textwrap.dedent(
        """
        import os
        data = open("/tmp/inputs/data").read()
        os.makedirs("/out/dir/deep")
        open("/out/dir/deep/f", "w").write(data.upper())
        os.symlink("/out/dir/deep/f", "/out/link")
        open("/inputs/tree/sub/b", "w").write(open("/inputs/tree/sub/a").read() + "b")
        print(os.access("/argo/staging/script", os.X_OK))
        """
    )
    spec = StepSpec(
        "wf/files",
        "python:alpine3.23",
        ["python3"],
        ["/argo/staging/script"],
        files={"/argo/staging/script": script.encode(), "/tmp/inputs/data": b"x"},
        file_modes={"/argo/staging/script": 0o755},
        input_paths={"/inputs/tree": inputs},
        output_paths=("/out/dir", "/out/dir/deep/f", "/out/link", "/inputs/tree/sub", "/tmp", "/nope"),
    )
    assert await run(executor, spec) == 0, executor.read_log("wf/files", "stderr")
    assert executor.read_log("wf/files", "stdout") == b"True\n"
    assert executor.read_file("wf/files", "/out/dir/deep/f") == b"X"
    assert executor.read_file("wf/files", "/out/link") == b"X"  # resolved as the container would
    assert executor.read_file("wf/files", "/nope") is None
    assert executor.read_file("wf/files", "/out/dir") is None  # a directory is not a file
    tree = executor.materialize("wf/files", "/inputs/tree/sub")
    assert tree is not None and sorted(p.name for p in tree.iterdir()) == ["a", "b"]
    assert (tree / "b").read_text() == "ab"
    assert not (inputs / "sub" / "b").exists()  # the step wrote to a private copy
    assert executor.read_file("wf/files", "/tmp/inputs/data") == b"x"  # a mount inside an output
    await executor.cleanup("wf/files")
    assert executor.read_file("wf/files", "/out/dir/deep/f") == b"X"  # outputs outlive the container


async def test_resource_limits(
    executor: ContainerExecutor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workdir = tmp_path / "hub-cwd"  # the engine must leave the hub's working directory alone
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    script = (
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us"
        " /sys/fs/cgroup/cpu/cpu.cfs_period_us"
    )
    spec = sh("wf/limits", script, resources={"memory": "64Mi", "cpu": "500m"})
    assert await run(executor, spec) == 0, executor.read_log("wf/limits", "stderr")
    memory, quota, period = executor.read_log("wf/limits", "stdout").split()
    assert int(memory) == 64 * 2**20
    assert int(quota) / int(period) == 0.5
    hungry = StepSpec(
        "wf/oom", "python:3", ["python3", "-c", "x = bytearray(256 * 2**20)"], resources={"memory": "32Mi"}
    )
    await executor.start(hungry)
    oom = await asyncio.wait_for(executor.wait("wf/oom"), WAIT)
    assert (oom.exit_code, oom.reason) == (137, "OOMKilled")
    assert list(workdir.iterdir()) == []
    with pytest.raises(ExecutorError, match=r"resources\.limits\.memory: invalid quantity '64 MB'"):
        await executor.start(sh("wf/bad", "true", resources={"memory": "64 MB"}))


async def test_host_network_reaches_loopback(executor: ContainerExecutor) -> None:
    received: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.read())
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        code = f"import socket; socket.create_connection(('127.0.0.1', {port})).sendall(b'hi')"
        assert await run(executor, StepSpec("wf/net", "python:3", ["python3", "-c", code])) == 0
        for _ in range(100):
            if received:
                break
            await asyncio.sleep(0.02)
    assert received == [b"hi"]


async def test_kill_sends_sigterm_then_sigkill_after_the_grace(executor: ContainerExecutor) -> None:
    await executor.start(sh("wf/stubborn", "trap '' TERM; echo ready; while :; do sleep 0.1; done"))
    await executor.start(sh("wf/plain", "echo ready; exec sleep 60"))
    await wait_for_output(executor, "wf/stubborn", b"ready")
    await wait_for_output(executor, "wf/plain", b"ready")
    began = asyncio.get_running_loop().time()
    await asyncio.gather(executor.kill("wf/stubborn", 1.0), executor.kill("wf/plain", 1.0))
    plain = await asyncio.wait_for(executor.wait("wf/plain"), WAIT)
    stubborn = await asyncio.wait_for(executor.wait("wf/stubborn"), WAIT)
    assert (plain.exit_code, plain.reason) == (143, "Killed")
    assert plain.message == "terminated by signal SIGTERM"
    assert (stubborn.exit_code, stubborn.reason) == (137, "Killed")
    assert stubborn.message == "terminated by signal SIGKILL"
    assert asyncio.get_running_loop().time() - began >= 1.0
    await executor.kill("wf/plain", 1.0)  # ended already: a no-op


async def test_kill_right_after_start(executor: ContainerExecutor) -> None:
    await executor.start(sh("wf/early", "exec sleep 60"))
    await executor.kill("wf/early", 0)
    result = await asyncio.wait_for(executor.wait("wf/early"), WAIT)
    assert result.reason == "Killed" and result.exit_code in (137, 143)


async def test_engine_failures_are_reported(make_executor: MakeExecutor) -> None:
    executor = make_executor(pull_policy="never")
    await executor.start(StepSpec("wf/missing", "alpine", ["definitely-not-installed"]))
    missing = await asyncio.wait_for(executor.wait("wf/missing"), WAIT)
    assert (missing.exit_code, missing.reason) == (127, "Error")
    assert "definitely-not-installed" in missing.message
    await executor.start(StepSpec("wf/noimage", "localhost/not-built:1", ["true"]))
    with pytest.raises(ExecutorError, match="could not run the step"):
        await asyncio.wait_for(executor.wait("wf/noimage"), WAIT)
    with pytest.raises(ExecutorError, match="could not run the step"):  # also for a later wait
        await executor.wait("wf/noimage")


async def test_cleanup_and_discard(engine: EngineUnderTest, executor: ContainerExecutor) -> None:
    assert await run(executor, sh("wf/clean", "echo out; echo o > /tmp/o", output_paths=("/tmp/o",))) == 0
    assert container_exists(engine, executor, "wf/clean")
    await executor.cleanup("wf/clean")
    assert not container_exists(engine, executor, "wf/clean")
    assert executor.read_log("wf/clean", "stdout") == b"out\n"
    assert executor.read_file("wf/clean", "/tmp/o") == b"o\n"
    assert (await executor.wait("wf/clean")).exit_code == 0
    await executor.discard("wf/clean")
    assert executor.read_log("wf/clean", "stdout") == b""
    assert await run(executor, sh("wf/clean", "exit 4")) == 4  # the key can run again (a retry)
    many = [f"wf/many{i}" for i in range(4)]
    for key in many:
        await executor.start(sh(key, "true"))
    assert [(await executor.wait(key)).exit_code for key in many] == [0] * 4
    engine.run("rm", executor.container_name(many[0]))  # gone already: the others still go
    await asyncio.gather(*(executor.cleanup(key) for key in many))  # removed together
    assert not any(container_exists(engine, executor, key) for key in many)
    await executor.start(sh("wf/busy", "exec sleep 60"))
    with pytest.raises(ExecutorError, match="still running"):
        await executor.cleanup("wf/busy")
    await executor.kill("wf/busy", 0)
    assert (await asyncio.wait_for(executor.wait("wf/busy"), WAIT)).reason == "Killed"
    await executor.cleanup("wf/busy")
    assert not container_exists(engine, executor, "wf/busy")


async def test_reattach_after_restart(
    engine: EngineUnderTest, make_executor: MakeExecutor, tmp_path: Path
) -> None:
    """A new executor object follows steps of an earlier one: closed, SIGKILLed, or whose runner died."""
    first = make_executor()
    await first.start(sh("wf/closed", "sleep 1; echo done; exit 6"))
    await first.start(sh("wf/runner-died", "echo ready; sleep 1; echo late >&2; exit 7"))
    await wait_for_output(first, "wf/runner-died", b"ready")
    os.kill(first._runners["wf/runner-died"].pid, signal.SIGKILL)  # the attached run, not the container
    await first.close()

    hub = textwrap.dedent(
        f"""
        import asyncio, os, signal
        from workflow_runtime.executors.base import StepSpec
        from workflow_runtime.executors.container.executor import ContainerExecutor

        async def main():
            executor = ContainerExecutor(
                {str(first.root)!r}, {engine.name!r}, docker_host={engine.docker_host!r}
            )
            await executor.start(StepSpec("wf/orphan", "alpine", ["sh", "-c", "sleep 1; echo o; exit 8"]))
            os.kill(os.getpid(), signal.SIGKILL)

        asyncio.run(main())
        """
    )
    process = subprocess.run([sys.executable, "-c", hub], capture_output=True, timeout=60, check=False)
    assert process.returncode == -signal.SIGKILL, process.stderr.decode()

    second = make_executor()
    results = await asyncio.wait_for(
        asyncio.gather(*(second.wait(key) for key in ("wf/closed", "wf/runner-died", "wf/orphan"))), WAIT
    )
    assert [result.exit_code for result in results] == [6, 7, 8]
    assert second.read_log("wf/closed", "stdout") == b"done\n"
    assert second.read_log("wf/runner-died", "stderr") == b"late\n"
    assert second.read_log("wf/orphan", "stdout") == b"o\n"
    await second.start(sh("wf/orphan", "exit 0"))  # already launched: a no-op
    assert (await second.wait("wf/orphan")).exit_code == 8
