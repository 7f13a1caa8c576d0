"""DAG throughput on the local executor: fan-out/fan-in, a dense lattice, and a 10,000-node workflow.

Prints wall time, steps/s, hub CPU per step (this process: controller, store, executor client; the
step processes and the executor agent are separate processes) and peak RSS of the hub.

    python bench/dag_throughput.py [--only fanout|lattice|big] [--isolation overlay|none]

Targets on a 2-core machine (issue 2): fan-out of 1,000 in <= 10 s, <= 2 ms hub CPU per step,
the 10,000-node workflow in <= 300 MB RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from triggerfish.config import load_settings
from triggerfish.hub import open_hub
from workflow_runtime.state import NodeType


def task(name: str, depends: str | None = None, **more: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "template": "noop", **more}
    if depends:
        out["depends"] = depends
    return out


NOOP = {"name": "noop", "container": {"image": "busybox", "command": ["true"]}}


def workflow(name: str, tasks: list[dict[str, Any]], parallelism: int | None = None) -> dict[str, Any]:
    main: dict[str, Any] = {"name": "main", "dag": {"tasks": tasks}}
    spec: dict[str, Any] = {"entrypoint": "main", "templates": [main, NOOP]}
    if parallelism:
        spec["parallelism"] = parallelism
    metadata = {"name": name}
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": metadata, "spec": spec}


def fanout(width: int) -> dict[str, Any]:
    return workflow(
        f"fanout-{width}",
        [
            task("root"),
            task("fan", "root", withSequence={"count": str(width)}),
            task("join", "fan"),
        ],
    )


def lattice(layers: int, width: int) -> dict[str, Any]:
    tasks = []
    for layer in range(layers):
        previous = [f"l{layer - 1}-{i}" for i in range(width)] if layer else []
        for i in range(width):
            tasks.append(task(f"l{layer}-{i}", " && ".join(previous) or None))
    return workflow(f"lattice-{layers}x{width}", tasks)


SCENARIOS: dict[str, tuple[str, Callable[[], dict[str, Any]]]] = {
    "fanout": ("1 root -> 1,000 parallel steps -> 1 join", lambda: fanout(1000)),
    "lattice": ("10x10 lattice, each layer depends on the whole previous one", lambda: lattice(10, 10)),
    "big": ("10,000-node workflow (1 -> 9,997 -> 1 fan-out)", lambda: fanout(9997)),
}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run_scenario(key: str, isolation: str, parallel: int) -> dict[str, Any]:
    label, build = SCENARIOS[key]
    with tempfile.TemporaryDirectory(prefix="tf-bench-", dir="/var/tmp") as data_dir:
        settings = load_settings(
            data_dir=Path(data_dir),
            executor={
                "local": {"isolation": isolation, "max_parallel_steps": parallel},
                "kill_grace_seconds": 1,
            },
        )
        hub = await open_hub(settings)
        try:
            cpu0, wall0 = time.process_time(), time.perf_counter()
            record = await hub.controller.submit(build())
            phase = await hub.controller.wait(record.uid)
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            run = hub.controller.runs[record.uid]
            pods = sum(1 for n in run.tree if n.type == NodeType.POD)
            nodes = len(run.tree.nodes)
        finally:
            await hub.close()
    return {
        "scenario": label,
        "phase": phase.value,
        "nodes": nodes,
        "steps": pods,
        "wall_s": wall,
        "steps_per_s": pods / wall,
        "hub_cpu_ms_per_step": cpu * 1000 / pods,
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--only", choices=sorted(SCENARIOS), action="append")
    parser.add_argument("--isolation", choices=("overlay", "none"), default="overlay")
    parser.add_argument("--parallel", type=int, default=64, help="executor max_parallel_steps")
    args = parser.parse_args()
    header = ("scenario", "phase", "nodes", "wall s", "steps/s", "hub ms/step", "RSS MB")
    print("{:62} {:9} {:>6} {:>7} {:>8} {:>11} {:>7}".format(*header))
    for key in args.only or list(SCENARIOS):
        r = asyncio.run(run_scenario(key, args.isolation, args.parallel))
        print(
            f"{r['scenario']:62} {r['phase']:9} {r['nodes']:>6} {r['wall_s']:>7.2f} {r['steps_per_s']:>8.0f} "
            f"{r['hub_cpu_ms_per_step']:>11.2f} {r['peak_rss_mb']:>7.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
