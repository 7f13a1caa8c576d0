"""Micro-benchmark: N ``true`` steps through the LocalExecutor, with isolation, 64 at a time.

Prints wall time, steps/s, the hub's CPU per step (this process: start + wait, nothing else) and
the agent's CPU per step, its own and its reaped children's (the step children: fork-to-exec setup
plus ``true`` itself).  Usage: ``python bench/local_executor.py [--steps 1000] [--parallel 64]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
import uuid

from workflow_runtime.executors.base import StepSpec
from workflow_runtime.executors.local.executor import Isolation, LocalExecutor


def _agent_pid(root: str) -> int:
    with open(os.path.join(root, "agent.pid")) as f:
        return int(f.read())


def _agent_cpu(pid: int) -> tuple[float, float]:
    """(own, reaped children's) CPU seconds of the agent, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    ticks = os.sysconf("SC_CLK_TCK")
    return (utime + stime) / ticks, (cutime + cstime) / ticks


async def _run(executor: LocalExecutor, keys: list[str]) -> None:
    async def one(key: str) -> None:
        await executor.start(StepSpec(step_key=key, image="busybox", command=["true"]))
        result = await executor.wait(key)
        if result.exit_code != 0:
            raise RuntimeError(f"{key} exited {result.exit_code}: {result.message}")

    await asyncio.gather(*(one(key) for key in keys))


async def main(steps: int, parallel: int, isolation: str) -> None:
    root = tempfile.mkdtemp(prefix="tf-bench-", dir="/var/tmp")
    try:
        mode: Isolation = "none" if isolation == "none" else "overlay"
        executor = LocalExecutor(root, isolation=mode, max_parallel_steps=parallel)
        await _run(executor, [f"warmup/{uuid.uuid4().hex}"])  # starts the agent, outside the measurement
        agent = _agent_pid(root)
        agent_own, agent_children = _agent_cpu(agent)
        keys = [f"bench/s{i}" for i in range(steps)]
        wall, cpu = time.perf_counter(), time.process_time()
        await _run(executor, keys)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        agent_own2, agent_children2 = _agent_cpu(agent)
        await executor.stop_agent()
        await executor.close()
        print(f"steps:                 {steps} (isolation={isolation}, max_parallel_steps={parallel})")
        print(f"wall time:             {wall:.2f} s")
        print(f"throughput:            {steps / wall:.0f} steps/s")
        print(f"hub CPU per step:      {cpu / steps * 1000:.3f} ms")
        print(f"agent CPU per step:    {(agent_own2 - agent_own) / steps * 1000:.3f} ms")
        children = (agent_children2 - agent_children) / steps * 1000
        print(f"step CPU per step:     {children:.3f} ms (fork-to-exec setup + true)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--parallel", type=int, default=64)
    parser.add_argument("--isolation", choices=["overlay", "none"], default="overlay")
    args = parser.parse_args()
    asyncio.run(main(args.steps, args.parallel, args.isolation))
