"""The agent's protocol as a client other than the executor sees it: bad requests get errors, and
nothing a client sends takes the agent (and so its steps) down."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import orjson

from workflow_runtime.executors.base import StepSpec
from workflow_runtime.executors.local.executor import LocalExecutor


async def ask(sock: str, *lines: bytes) -> list[dict[str, object]]:
    reader, writer = await asyncio.open_unix_connection(sock)
    writer.write(b"".join(line + b"\n" for line in lines))
    await writer.drain()
    replies = [orjson.loads(await asyncio.wait_for(reader.readline(), 5)) for _ in lines]
    writer.close()
    return replies


async def test_bad_requests_get_errors_and_the_agent_carries_on(
    make_executor: Callable[..., LocalExecutor],
) -> None:
    executor = make_executor()
    await executor.start(StepSpec("wf/steady", "alpine", ["/bin/sh", "-c", "sleep 0.3; exit 2"]))
    sock = str(executor.root / "agent.sock")
    replies = await ask(
        sock,
        b'{"id": 1, "op": "bogus"}',
        b'{"id": 2, "op": "start", "key": "wf/incomplete"}',
        b'{"id": 3, "op": "start", "key": "../../etc", "argv": ["true"], "env": {}, "cwd": null,'
        b' "isolated": false, "stdin": false}',
        b'{"id": 4, "op": "status", "key": "wf/steady"}',
        b'{"id": 5, "op": "kill", "key": "wf/unknown", "grace": 1}',
        b'{"id": 6, "op": "start", "key": "wf/steady", "argv": ["true"], "env": {}, "cwd": null,'
        b' "isolated": false, "stdin": false}',
    )
    assert replies[0] == {"id": 1, "ok": False, "error": "unknown op 'bogus'"}
    assert replies[1]["ok"] is False
    assert replies[2]["ok"] is False and "invalid step key" in str(replies[2]["error"])
    assert replies[3] == {"id": 4, "ok": True, "running": True}
    assert replies[4] == {"id": 5, "ok": True, "running": False}
    assert replies[5] == {"id": 6, "ok": False, "error": "step wf/steady is already running"}
    for garbage in (b"not json\n", b"[1, 2]\n"):
        reader, writer = await asyncio.open_unix_connection(sock)
        writer.write(garbage)
        assert await asyncio.wait_for(reader.read(), 5) == b""  # dropped
        writer.close()
    assert (await executor.wait("wf/steady")).exit_code == 2


async def test_every_client_hears_of_every_exit(make_executor: Callable[..., LocalExecutor]) -> None:
    executor = make_executor()
    await executor.start(StepSpec("wf/first", "alpine", ["true"]))
    await executor.wait("wf/first")
    reader, writer = await asyncio.open_unix_connection(str(executor.root / "agent.sock"))
    await executor.start(StepSpec("wf/heard", "alpine", ["/bin/sh", "-c", "exit 3"]))
    event = orjson.loads(await asyncio.wait_for(reader.readline(), 5))
    writer.close()
    assert event["ev"] == "exit" and event["key"] == "wf/heard"
    assert (event["exit_code"], event["reason"], event["message"]) == (3, "Error", "")
    assert event["started_at"] <= event["finished_at"]


async def test_hubs_racing_to_launch_share_one_agent(make_executor: Callable[..., LocalExecutor]) -> None:
    hubs = [make_executor() for _ in range(3)]
    await asyncio.gather(
        *(hub.start(StepSpec(f"wf/race{i}", "alpine", ["true"])) for i, hub in enumerate(hubs))
    )
    results = await asyncio.gather(*(hub.wait(f"wf/race{i}") for i, hub in enumerate(hubs)))
    assert [result.exit_code for result in results] == [0, 0, 0]
    log = (hubs[0].root / "agent.log").read_text()
    assert log.count(" serving ") == 1, log
