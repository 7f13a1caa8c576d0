"""Container executor overhead: one step against a bare ``<engine> run --rm`` of the same command, and a
200-step fan-out through the hub with every step in a container.

Per step, sequentially, medians of ``--runs`` runs of ``true`` in ``busybox`` against ``<engine> run --rm
--network host busybox true`` (the executor's default network, so both pay the same network setup): the
executor's start and wait (what a workflow waits for: the controller removes the container in the
background), and its start, wait and cleanup (the container removed, all the work ``--rm`` does).
Target: the executor within 1.3x of the bare run (issue 6).  Then ``fanout`` of bench/dag_throughput.py
(1 root -> 200 parallel steps -> 1 join) on a hub with ``executor.kind`` set to the engine.

Uses the engines the tests use (tests/support/containers.py: podman with Triggerfish's configuration,
or a private dockerd), with the locally built images.  Run from the repository root:

    python -m bench.container_overhead [--engine podman|docker] [--runs 20] [--width 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from bench.dag_throughput import fanout
from tests.support.containers import EngineUnderTest, engine_context
from triggerfish.config import load_settings
from triggerfish.hub import open_hub
from workflow_runtime.executors.base import StepSpec
from workflow_runtime.executors.container.executor import ContainerExecutor
from workflow_runtime.state import NodeType

IMAGE = "busybox"


def bare_run(engine: EngineUnderTest) -> float:
    began = time.perf_counter()
    done = subprocess.run(
        engine.argv("run", "--rm", "--network", "host", IMAGE, "true"), capture_output=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"bare run failed: {done.stderr.decode()}")
    return time.perf_counter() - began


async def executor_run(executor: ContainerExecutor) -> tuple[float, float]:
    """Seconds to the step's end (start + wait), and to its container's removal (+ cleanup)."""
    key = f"bench/{uuid.uuid4().hex[:12]}"
    began = time.perf_counter()
    await executor.start(StepSpec(key, IMAGE, ["true"]))
    result = await executor.wait(key)
    ended = time.perf_counter() - began
    await executor.cleanup(key)
    removed = time.perf_counter() - began
    if result.exit_code != 0:
        raise RuntimeError(f"step failed: {result}")
    await executor.discard(key)
    return ended, removed


async def per_step(engine: EngineUnderTest, runs: int) -> tuple[float, float, float]:
    """Medians (bare, executor to the end, executor to the removal), runs interleaved so all see the
    same machine state."""
    with tempfile.TemporaryDirectory(prefix="tf-bench-") as root:
        executor = ContainerExecutor(root, engine.name, docker_host=engine.docker_host)
        bare_run(engine)  # warm the image and the engine's caches for both
        await executor_run(executor)
        bare, ended, removed = [], [], []
        for _ in range(runs):
            bare.append(bare_run(engine))
            to_end, to_removal = await executor_run(executor)
            ended.append(to_end)
            removed.append(to_removal)
        await executor.close()
    return statistics.median(bare), statistics.median(ended), statistics.median(removed)


async def fan_out(engine: EngineUnderTest, width: int) -> tuple[str, int, float]:
    with tempfile.TemporaryDirectory(prefix="tf-bench-") as data_dir:
        settings = load_settings(
            data_dir=Path(data_dir),
            executor={"kind": engine.name, "container": {"docker_host": engine.docker_host}},
        )
        hub = await open_hub(settings)
        try:
            began = time.perf_counter()
            record = await hub.controller.submit(fanout(width))
            phase = await hub.controller.wait(record.uid)
            wall = time.perf_counter() - began
            steps = sum(1 for n in hub.controller.runs[record.uid].tree if n.type == NodeType.POD)
        finally:
            await hub.close()
    return phase.value, steps, wall


async def main(engine_name: str, runs: int, width: int) -> None:
    with engine_context("docker" if engine_name == "docker" else "podman") as engine:
        bare, ended, removed = await per_step(engine, runs)
        print(f"engine:                       {engine.name}")
        print(f"bare run --rm, median:        {bare * 1000:.0f} ms  ({runs} runs of `true`)")
        print(f"executor start+wait:          {ended * 1000:.0f} ms  ({ended / bare:.2f}x, target <= 1.3x)")
        print(f"executor start+wait+cleanup:  {removed * 1000:.0f} ms  ({removed / bare:.2f}x)")
        phase, steps, wall = await fan_out(engine, width)
        print(
            f"fan-out 1 -> {width} -> 1:          {phase}, {steps} steps in {wall:.1f} s "
            f"({steps / wall:.1f} steps/s)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--engine", choices=["podman", "docker"], default="podman")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--width", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.engine, args.runs, args.width))
