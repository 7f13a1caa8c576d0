"""GitHub deliveries into a real hub: sustained durable ingest, and webhook → first step latency.

    python bench/ingest.py [--phase both|throughput|latency] [--seconds 20] [--connections 64]
                           [--rate 100] [--latency-seconds 30] [--keep DIR]

Each phase starts its own ``triggerfish server`` subprocess (fresh data directory, a settings file
with the webhook secret) and applies, through the API, a ``github`` EventSource and one Sensor:

* **throughput**: a Sensor with a ``log`` trigger. ``wrk`` (Debian package ``wrk``; install it
  with ``apt-get install wrk``) drives the hub's port from its own process, one thread, keep-alive
  connections, every request the same pre-signed ~7 KB ``pull_request`` body (the signature covers
  the body only) with its own ``X-GitHub-Delivery``. Only 2xx answers count: the hub answers 200
  only once the event is durable on the bus. Afterwards every accepted delivery id is looked up in
  the events API (all must be on the bus), and the log trigger's firings (``/metrics``) show
  whether the sensor kept pace: how many had fired when the load ended, and when it caught up.
* **latency**: a Sensor with an ``argoWorkflow`` trigger whose workflow has one step (busybox
  ``true``). Deliveries are sent at a steady ``--rate`` from this process over keep-alive
  connections; for each, the time from sending to the hub's answer, and from sending to the
  ``startedAt`` of the run's Pod node (the run is found through the event's lineage,
  ``GET /api/v1/triggerfish/events/{delivery}/lineage``, after the load has ended).

Targets on a 2-core machine: >= 2,000 deliveries/s; webhook → first step started p50 <= 20 ms,
p99 <= 100 ms. (Argo Events' own stress test reported about 45 events/s.)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

SECRET = "bench-secret"
EVENTS = "/api/v1/triggerfish/events"
MANIFESTS = "/api/v1/triggerfish/manifests"
ENDPOINT = "/github"
LOG_SENSOR = "ingest-log"
TRIGGERFISH = Path(sys.executable).parent / "triggerfish"
TARGET_DELIVERIES_PER_SECOND = 2000
TARGET_P50_MS = 20.0
TARGET_P99_MS = 100.0

# ------------------------------------------------------------------------------------ the payload


def user(login: str, uid: int) -> dict[str, Any]:
    api = f"https://api.github.com/users/{login}"
    return {
        "login": login,
        "id": uid,
        "node_id": f"MDQ6VXNlcj{uid}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4",
        "gravatar_id": "",
        "url": api,
        "html_url": f"https://github.com/{login}",
        "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}",
        "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events",
        "type": "User",
        "site_admin": False,
    }


def repository() -> dict[str, Any]:
    api = "https://api.github.com/repos/acme/widgets"
    return {
        "id": 4242,
        "node_id": "MDEwOlJlcG9zaXRvcnk0MjQy",
        "name": "widgets",
        "full_name": "acme/widgets",
        "private": False,
        "owner": user("acme", 1001),
        "html_url": "https://github.com/acme/widgets",
        "description": "Widgets, gadgets and gizmos",
        "fork": False,
        "url": api,
        "pulls_url": f"{api}/pulls{{/number}}",
        "issues_url": f"{api}/issues{{/number}}",
        "commits_url": f"{api}/commits{{/sha}}",
        "git_url": "git://github.com/acme/widgets.git",
        "ssh_url": "git@github.com:acme/widgets.git",
        "clone_url": "https://github.com/acme/widgets.git",
        "created_at": "2021-03-04T10:11:12Z",
        "updated_at": "2024-05-06T07:08:09Z",
        "pushed_at": "2024-05-06T07:08:09Z",
        "size": 2048,
        "stargazers_count": 17,
        "watchers_count": 17,
        "language": "Python",
        "forks_count": 3,
        "open_issues_count": 5,
        "default_branch": "master",
        "visibility": "public",
    }


def pull_request_payload(number: int = 42) -> dict[str, Any]:
    """A ``pull_request`` ``opened`` delivery shaped like GitHub's (about 7 KB of JSON)."""
    repo = repository()
    author = user("octocat", 583231)
    api = f"https://api.github.com/repos/acme/widgets/pulls/{number}"
    head_sha = hashlib.sha1(b"head").hexdigest()
    base_sha = hashlib.sha1(b"base").hexdigest()
    return {
        "action": "opened",
        "number": number,
        "pull_request": {
            "url": api,
            "id": 1_000_000 + number,
            "node_id": "MDExOlB1bGxSZXF1ZXN0MTAwMDA0Mg==",
            "html_url": f"https://github.com/acme/widgets/pull/{number}",
            "diff_url": f"https://github.com/acme/widgets/pull/{number}.diff",
            "patch_url": f"https://github.com/acme/widgets/pull/{number}.patch",
            "number": number,
            "state": "open",
            "locked": False,
            "title": "Make the widget frobnicator configurable",
            "user": author,
            "body": "This adds a `frobnicate` setting.\n\n- [x] tests\n- [x] docs\n",
            "created_at": "2024-05-06T07:08:09Z",
            "updated_at": "2024-05-06T07:08:09Z",
            "merge_commit_sha": None,
            "draft": False,
            "commits_url": f"{api}/commits",
            "review_comments_url": f"{api}/comments",
            "statuses_url": f"https://api.github.com/repos/acme/widgets/statuses/{head_sha}",
            "head": {
                "label": "octocat:frobnicate",
                "ref": "frobnicate",
                "sha": head_sha,
                "user": author,
                "repo": repo,
            },
            "base": {"label": "acme:master", "ref": "master", "sha": base_sha, "user": repo["owner"]},
            "author_association": "CONTRIBUTOR",
            "merged": False,
            "mergeable_state": "unknown",
            "comments": 0,
            "review_comments": 0,
            "commits": 3,
            "additions": 120,
            "deletions": 14,
            "changed_files": 6,
        },
        "repository": repo,
        "sender": author,
    }


def pull_request_body() -> bytes:
    return json.dumps(pull_request_payload(), separators=(",", ":")).encode()


def signature_256(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def github_headers(body: bytes) -> dict[str, str]:
    """What GitHub sends with every delivery, but ``X-GitHub-Delivery``."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/4e3a9b1",
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Hook-ID": "123456789",
        "X-GitHub-Hook-Installation-Target-ID": "4242",
        "X-GitHub-Hook-Installation-Target-Type": "repository",
        "X-Hub-Signature": "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest(),
        "X-Hub-Signature-256": signature_256(body),
    }


# ---------------------------------------------------------------------------------- manifests


def event_source(port: int) -> dict[str, Any]:
    """The github EventSource; Argo requires a ``port`` (served too), the load goes to the hub's."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "EventSource",
        "metadata": {"name": "github"},
        "spec": {
            "github": {
                "ci": {
                    "repositories": [{"owner": "acme", "names": ["widgets"]}],
                    "webhook": {"endpoint": ENDPOINT, "method": "POST", "port": str(port)},
                    "events": ["push", "pull_request"],
                    "webhookSecret": {"name": "github-secret", "key": "token"},
                    "contentType": "json",
                }
            }
        },
    }


DEPENDENCY = {
    "name": "pr",
    "eventSourceName": "github",
    "eventName": "ci",
    "filters": {
        "data": [
            {"path": "headers.X-Github-Event", "type": "string", "value": ["pull_request"]},
            {"path": "body.action", "type": "string", "value": ["opened", "synchronize", "reopened"]},
        ]
    },
}


def log_sensor() -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Sensor",
        "metadata": {"name": LOG_SENSOR},
        "spec": {"dependencies": [DEPENDENCY], "triggers": [{"template": {"name": "log", "log": {}}}]},
    }


def workflow_sensor() -> dict[str, Any]:
    workflow = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "pr-"},
        "spec": {
            "entrypoint": "main",
            "arguments": {"parameters": [{"name": "revision"}]},
            "templates": [{"name": "main", "container": {"image": "busybox", "command": ["true"]}}],
        },
    }
    trigger = {
        "template": {
            "name": "run",
            "argoWorkflow": {
                "operation": "submit",
                "source": {"resource": workflow},
                "parameters": [
                    {
                        "src": {"dependencyName": "pr", "dataKey": "body.pull_request.head.sha"},
                        "dest": "spec.arguments.parameters.0.value",
                    }
                ],
            },
        }
    }
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Sensor",
        "metadata": {"name": "ingest-run"},
        "spec": {"dependencies": [DEPENDENCY], "triggers": [trigger]},
    }


# ------------------------------------------------------------------------------------ the hub


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its reaped children (from /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:13]) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all cores, for the machine's utilisation over an interval."""
    with open("/proc/stat") as f:
        values = [int(x) for x in f.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


@dataclass
class Usage:
    """CPU used over an interval: the hub process, and the whole machine."""

    pid: int
    hub_start: float = 0.0
    busy_start: tuple[float, float] = (0.0, 0.0)
    hub: float = 0.0
    machine: float = 0.0
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def __enter__(self) -> Usage:
        self.hub_start, self.busy_start = cpu_seconds(self.pid), machine_busy()
        return self

    def __exit__(self, *_: object) -> None:
        self.hub = cpu_seconds(self.pid) - self.hub_start
        busy, total = machine_busy()
        self.machine = (busy - self.busy_start[0]) / max(1.0, total - self.busy_start[1])
        self.load = os.getloadavg()


@dataclass
class Hub:
    directory: Path
    process: subprocess.Popen[bytes]
    port: int
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.url, timeout=60.0)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def apply(self, manifest: dict[str, Any]) -> None:
        response = self.client.post(MANIFESTS, json=manifest)
        response.raise_for_status()

    def log(self) -> str:
        return (self.directory / "hub.log").read_text(errors="replace")


@contextlib.contextmanager
def running_hub(base: Path, name: str) -> Iterator[Hub]:
    directory = base / name
    directory.mkdir(parents=True)
    config = directory / "settings.yaml"
    config.write_text(yaml.safe_dump({"secrets": {"github-secret": {"token": SECRET}}}))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIGGERFISH_")}
    with open(directory / "hub.log", "wb") as log:
        command = [str(TRIGGERFISH), "server", "--data-dir", str(directory / "data"), "--config", str(config)]
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    hub = Hub(directory, process, port)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the hub did not start:\n{hub.log()}")
            with contextlib.suppress(httpx.HTTPError):
                if hub.client.get("/readyz").status_code == 200:
                    break
            time.sleep(0.1)
        yield hub
    finally:
        hub.client.close()
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        agent = directory / "data" / "executor" / "agent.pid"
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(agent.read_text()), 9)


def page_event_ids(hub: Hub) -> set[str]:
    """Every event id of the github source on the bus (the events API, newest first, paged)."""
    ids: set[str] = set()
    before: int | None = None
    while True:
        params: dict[str, Any] = {"source": "github", "limit": 1000}
        if before is not None:
            params["before"] = before
        page = hub.client.get(EVENTS, params=params).json()
        ids.update(item["id"] for item in page["items"])
        if page["next"] is None:
            return ids
        before = page["next"]


def metric_total(hub: Hub, name: str, **labels: str) -> int:
    """The sum of a counter's samples with these labels, from the hub's ``/metrics``."""
    text = hub.client.get("/metrics").text
    return int(
        sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
        )
    )


def log_triggers_fired(hub: Hub) -> int:
    """Firings of the ``log`` sensor's trigger that succeeded."""
    return metric_total(hub, "triggerfish_trigger_results_total", sensor=LOG_SENSOR, outcome="succeeded")


def wait_for_fired(hub: Hub, count: int, timeout: float) -> float | None:
    """Seconds until the log trigger has fired ``count`` times (None: not within ``timeout``)."""
    start = time.monotonic()
    while log_triggers_fired(hub) < count:
        if time.monotonic() - start > timeout:
            return None
        time.sleep(0.02)
    return time.monotonic() - start


# ------------------------------------------------------------------------------ phase 1: wrk

WRK_SCRIPT = """
local body = io.open(BODY_FILE, "rb"):read("*a")
local headers = HEADERS
local threads = {}
local counter = 0
accepted = 0
rejected = 0

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  out = io.open(OUT_DIR .. "/accepted-" .. tid .. ".txt", "w")
  out:setvbuf("line")
end

function request()
  counter = counter + 1
  headers["X-GitHub-Delivery"] = RUN .. "-" .. tid .. "-" .. counter
  return wrk.format("POST", PATH, headers, body)
end

function response(status, hdrs, resp)
  if status >= 200 and status < 300 then
    accepted = accepted + 1
    out:write(string.match(resp, '"id":"([^"]*)"'), "\\n")
  else
    rejected = rejected + 1
  end
end

function done(summary, latency, requests)
  local total, bad = 0, 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("accepted")
    bad = bad + thread:get("rejected")
  end
  io.write(string.format("RESULT %d %d %d %d %d %d %d\\n", total, bad, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid Lua string literal for these characters


@dataclass
class Throughput:
    accepted: int
    rejected: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    missing: int
    on_bus: int
    fired_during_load: int
    """log trigger firings finished when the load ended (the sensor's pace under load)"""
    drain_seconds: float | None
    """from the end of the load until every event on the bus had fired the log trigger"""
    usage: Usage

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds


def run_wrk(hub: Hub, work: Path, seconds: float, connections: int, run: str) -> Throughput:
    body = pull_request_body()
    (work / "body.json").write_bytes(body)
    headers = "{" + ", ".join(f"[{lua_string(k)}] = {lua_string(v)}" for k, v in github_headers(body).items())
    script = (
        f"BODY_FILE = {lua_string(str(work / 'body.json'))}\nOUT_DIR = {lua_string(str(work))}\n"
        f"RUN = {lua_string(run)}\nPATH = {lua_string(ENDPOINT)}\nHEADERS = {headers}" + "}\n" + WRK_SCRIPT
    )
    (work / "ingest.lua").write_text(script)
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:.0f}s", "--timeout", "10s"]
    command += ["-s", str(work / "ingest.lua"), hub.url]
    with Usage(hub.process.pid) as usage:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    (work / "wrk.txt").write_text(result.stdout + result.stderr)
    line = next((x for x in result.stdout.splitlines() if x.startswith("RESULT ")), None)
    if result.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed:\n{result.stdout}{result.stderr}")
    accepted, rejected, duration_us, errors, p50, p99, _ = (int(x) for x in line.split()[1:])
    fired_during_load, drained_from = log_triggers_fired(hub), time.monotonic()
    published = metric_total(hub, "triggerfish_events_published_total")  # with requests wrk cut off
    waited = wait_for_fired(hub, published, timeout=600)
    drain = None if waited is None else time.monotonic() - drained_from
    ids: list[str] = []
    for path in work.glob("accepted-*.txt"):
        ids += path.read_text().split()
    assert len(ids) == accepted, (len(ids), accepted)
    on_bus = page_event_ids(hub)
    missing = len(set(ids) - on_bus)
    return Throughput(
        accepted,
        rejected,
        errors,
        duration_us / 1e6,
        p50 / 1e3,
        p99 / 1e3,
        missing,
        len(on_bus),
        fired_during_load,
        drain,
        usage,
    )


# ------------------------------------------------------------------------- phase 2: latency


class Connection:
    """One keep-alive HTTP/1.1 connection that sends pre-built requests and reads the answers."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


@dataclass
class Latency:
    sent: int
    accepted: int
    seconds: float
    response_ms: list[float]
    started_ms: list[float]
    not_started: int
    usage: Usage
    stages_ms: dict[str, list[float]]


async def steady_load(
    port: int, rate: float, seconds: float, run: str
) -> tuple[dict[str, float], list[float]]:
    """Send ``rate`` deliveries/s for ``seconds``; wall-clock send time per accepted delivery id,
    and the response latencies (ms)."""
    body = pull_request_body()
    headers = github_headers(body)
    prefix = (
        f"POST {ENDPOINT} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len(body)}\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    ).encode()
    # Used in turn (oldest idle first), so none stays idle past the server's keep-alive timeout.
    idle: deque[Connection] = deque([await Connection.open(port) for _ in range(8)])
    sent_at: dict[str, float] = {}
    response_ms: list[float] = []

    async def deliver(n: int) -> None:
        connection = idle.popleft() if idle else await Connection.open(port)
        delivery = f"{run}-{n}"
        request = prefix + f"X-GitHub-Delivery: {delivery}\r\n\r\n".encode() + body
        wall, started = time.time(), time.perf_counter()
        try:
            status, _ = await connection.exchange(request)
        except (ConnectionError, asyncio.IncompleteReadError):  # closed by the server meanwhile
            connection.close()
            connection = await Connection.open(port)
            status, _ = await connection.exchange(request)
        response_ms.append((time.perf_counter() - started) * 1e3)
        idle.append(connection)
        if 200 <= status < 300:
            sent_at[delivery] = wall

    total = int(rate * seconds)
    start = time.perf_counter()
    tasks = []
    for n in range(total):
        await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(deliver(n)))
    await asyncio.gather(*tasks)
    for connection in idle:
        connection.close()
    return sent_at, response_ms


def parse_time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


@dataclass(frozen=True)
class Timeline:
    """Wall-clock times of one delivery, from the hub's records."""

    appended: float
    """the event's ``appendedAt`` on the bus"""
    run_started: float
    """the run's ``status.startedAt``"""
    step_started: float
    """the ``startedAt`` of its Pod node"""


async def timeline(client: httpx.AsyncClient, delivery: str, deadline: float) -> Timeline | None:
    """Follow a delivery to the run it created (lineage) and its first step (the Pod node)."""
    while time.monotonic() < deadline:
        lineage = (await client.get(f"{EVENTS}/{delivery}/lineage")).json()
        for run in lineage.get("workflows", []):
            document = (await client.get(f"/api/v1/workflows/{run['namespace']}/{run['name']}")).json()
            status = document.get("status") or {}
            nodes = status.get("nodes") or {}
            pods = [parse_time(n["startedAt"]) for n in nodes.values() if n["type"] == "Pod"]
            if pods:
                appended = parse_time(lineage["event"]["appendedAt"])
                return Timeline(appended, parse_time(status["startedAt"]), min(pods))
        await asyncio.sleep(0.5)
    return None


async def measure_latency(hub: Hub, rate: float, seconds: float, run: str) -> Latency:
    with Usage(hub.process.pid) as usage:
        sent_at, response_ms = await steady_load(hub.port, rate, seconds, run)
    deadline = time.monotonic() + 120
    limit = asyncio.Semaphore(8)
    async with httpx.AsyncClient(base_url=hub.url, timeout=60.0) as client:

        async def one(delivery: str) -> Timeline | None:
            async with limit:
                return await timeline(client, delivery, deadline)

        deliveries = list(sent_at)
        timelines = await asyncio.gather(*(one(d) for d in deliveries))
    found = [(sent_at[d], t) for d, t in zip(deliveries, timelines, strict=True) if t is not None]
    return Latency(
        sent=int(rate * seconds),
        accepted=len(sent_at),
        seconds=seconds,
        response_ms=response_ms,
        started_ms=[(t.step_started - sent) * 1e3 for sent, t in found],
        not_started=sum(t is None for t in timelines),
        usage=usage,
        stages_ms={
            "send -> on the bus": [(t.appended - sent) * 1e3 for sent, t in found],
            "on the bus -> run started": [(t.run_started - t.appended) * 1e3 for _, t in found],
            "run started -> step started": [(t.step_started - t.run_started) * 1e3 for _, t in found],
        },
    )


# --------------------------------------------------------------------------------------- report


def percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def usage_line(usage: Usage, seconds: float) -> str:
    return (
        f"hub CPU {usage.hub / seconds * 100:.0f}% of a core, machine busy {usage.machine * 100:.0f}% "
        f"of 2 cores, load average {usage.load[0]:.2f}"
    )


def report(throughput: Throughput | None, latency: Latency | None) -> None:
    rows: list[tuple[str, str, str, str]] = []
    if throughput is not None:
        t = throughput
        rows.append(
            (
                "sustained deliveries/s (2xx = durable)",
                f"{t.rate:,.0f}",
                f">= {TARGET_DELIVERIES_PER_SECOND:,}",
                verdict(t.rate >= TARGET_DELIVERIES_PER_SECOND and t.missing == 0),
            )
        )
        responses = f"{t.p50_ms:.1f} / {t.p99_ms:.1f} ms"
        rows.append(("  webhook response p50 / p99 under that load", responses, "", ""))
    if latency is not None:
        s = latency.started_ms
        r = latency.response_ms
        rows.append(
            (
                f"webhook -> first step started p50 ({latency.sent / latency.seconds:.0f}/s)",
                f"{percentile(s, 50):.1f} ms",
                f"<= {TARGET_P50_MS:.0f} ms",
                verdict(percentile(s, 50) <= TARGET_P50_MS),
            )
        )
        rows.append(
            (
                "webhook -> first step started p99",
                f"{percentile(s, 99):.1f} ms",
                f"<= {TARGET_P99_MS:.0f} ms",
                verdict(percentile(s, 99) <= TARGET_P99_MS and latency.not_started == 0),
            )
        )
        responses = f"{percentile(r, 50):.1f} / {percentile(r, 99):.1f} ms"
        rows.append(("webhook response p50 / p99", responses, "", ""))
    width = max(len(row[0]) for row in rows)
    print()
    print(f"{'':{width}}  {'measured':>18}  {'target':>10}")
    for name, value, target, status in rows:
        print(f"{name:{width}}  {value:>18}  {target:>10}  {status}")
    if throughput is not None:
        t = throughput
        print(
            f"\nthroughput: {t.accepted:,} accepted in {t.seconds:.1f} s, {t.rejected} refused, "
            f"{t.errors} socket errors; {t.on_bus:,} events on the bus, "
            f"{t.missing} accepted deliveries missing from it; {usage_line(t.usage, t.seconds)}; "
            f"{t.usage.hub / max(1, t.accepted) * 1e6:.0f} µs hub CPU per delivery"
        )
        drained = (
            "did not catch up" if t.drain_seconds is None else f"caught up {t.drain_seconds:.1f} s later"
        )
        print(
            f"sensor: the log trigger had fired {t.fired_during_load:,} times when the load ended "
            f"({t.fired_during_load / t.seconds:,.0f}/s), {t.on_bus - t.fired_during_load:,} behind; "
            f"{drained}"
        )
    if latency is not None:
        lat = latency
        print(
            f"latency: {lat.accepted:,} of {lat.sent:,} deliveries accepted, {len(lat.started_ms):,} runs "
            f"started, {lat.not_started} not found; step start max {max(lat.started_ms, default=0):.1f} ms; "
            f"{usage_line(lat.usage, lat.seconds)}"
        )
        stages = ", ".join(
            f"{name} {percentile(values, 50):.1f} / {percentile(values, 99):.1f}"
            for name, values in lat.stages_ms.items()
        )
        print(f"latency stages p50 / p99 (ms): {stages}")


# ------------------------------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--phase", choices=["both", "throughput", "latency"], default="both")
    parser.add_argument("--seconds", type=float, default=20.0, help="throughput phase duration")
    parser.add_argument("--connections", type=int, default=64, help="wrk keep-alive connections")
    parser.add_argument("--rate", type=float, default=100.0, help="latency phase deliveries/s")
    parser.add_argument("--latency-seconds", type=float, default=30.0)
    parser.add_argument("--keep", type=Path, help="keep data directories and logs here")
    args = parser.parse_args()
    if args.phase != "latency" and shutil.which("wrk") is None:
        sys.exit("the throughput phase needs wrk: apt-get install wrk")
    base = args.keep or Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    run = uuid.uuid4().hex[:8]
    print(f"load average before: {os.getloadavg()[0]:.2f}; body {len(pull_request_body()):,} bytes")
    throughput = latency = None
    try:
        if args.phase in ("both", "throughput"):
            with running_hub(base, f"throughput-{run}") as hub:
                hub.apply(event_source(free_port()))
                hub.apply(log_sensor())
                print(f"throughput: wrk, {args.connections} connections, {args.seconds:.0f} s", flush=True)
                throughput = run_wrk(hub, hub.directory, args.seconds, args.connections, run)
        if args.phase in ("both", "latency"):
            with running_hub(base, f"latency-{run}") as hub:
                hub.apply(event_source(free_port()))
                hub.apply(workflow_sensor())
                print(f"latency: {args.rate:.0f} deliveries/s, {args.latency_seconds:.0f} s", flush=True)
                latency = asyncio.run(measure_latency(hub, args.rate, args.latency_seconds, run))
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    report(throughput, latency)


if __name__ == "__main__":
    main()
