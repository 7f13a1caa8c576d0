"""``triggerfish apply -f`` (a CLI subprocess, ``TRIGGERFISH_SERVER`` pointing at a running hub).

Applying creates EventSources and Sensors that serve at once; applying a changed Sensor replaces
it in place (the hub is not restarted, the next event meets the new filter); a broken manifest is
refused with exit code 2 and a message naming the field by its YAML path, leaving what runs
untouched; a route clash on an extra port exits non-zero with the conflict.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.event_hub import EventHub, arguments_of, event_hubs, needs_isolation
from tests.support.processes import cli_env, free_port, process_alive, run_cli

pytestmark = needs_isolation

# `{port}`, `{kinds}` (the data filter's values) and `{comparator}` are filled in per test.
EVENT_SOURCE = """\
apiVersion: argoproj.io/v1alpha1
kind: EventSource
metadata:
  name: {name}
spec:
  webhook:
    hook:
      endpoint: /{endpoint}
      port: "{port}"
      method: POST
"""

SENSOR = """\
apiVersion: argoproj.io/v1alpha1
kind: Sensor
metadata:
  name: {name}
spec:
  dependencies:
    - name: change
      eventSourceName: {name}
      eventName: hook
      filters:
        data:
          - path: body.kind
            type: string
            value: {kinds}
            comparator: "{comparator}"
  triggers:
    - template:
        name: run
        {trigger_kind}:
          operation: submit
          source:
            resource:
              apiVersion: argoproj.io/v1alpha1
              kind: Workflow
              metadata:
                generateName: {name}-
              spec:
                entrypoint: main
                arguments:
                  parameters:
                    - name: kind
                templates:
                  - name: main
                    container:
                      image: busybox
                      command: ["true"]
          parameters:
            - src:
                dependencyName: change
                dataKey: body.kind
              dest: spec.arguments.parameters.0.value
"""


def event_source(name: str, port: int, endpoint: str | None = None) -> str:
    return EVENT_SOURCE.format(name=name, port=port, endpoint=endpoint or name)


def sensor(
    name: str, kinds: str = "[build]", comparator: str = "=", trigger_kind: str = "argoWorkflow"
) -> str:
    return SENSOR.format(name=name, kinds=kinds, comparator=comparator, trigger_kind=trigger_kind)


class Cli:
    def __init__(self, hub: EventHub, directory: Path) -> None:
        self.hub = hub
        self.directory = directory
        self.files = 0

    def write(self, text: str) -> Path:
        self.files += 1
        path = self.directory / f"manifest-{self.files}.yaml"
        path.write_text(text)
        return path

    def apply(self, *texts: str) -> subprocess.CompletedProcess[str]:
        path = self.write("---\n".join(texts))
        return run_cli(["apply", "-f", path], env=cli_env(TRIGGERFISH_SERVER=self.hub.url))

    def apply_each(self, *texts: str) -> list[subprocess.CompletedProcess[str]]:
        """One ``apply -f`` per text, run concurrently (each CLI start costs over a second)."""
        paths = [self.write(text) for text in texts]
        env = cli_env(TRIGGERFISH_SERVER=self.hub.url)
        with ThreadPoolExecutor(max_workers=len(paths)) as pool:
            return list(pool.map(lambda p: run_cli(["apply", "-f", p], env=env), paths))


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    base = tmp_path_factory.mktemp("apply")
    with event_hubs(base) as make:
        hub = make(settings={}).start()
        yield Cli(hub, base)


def post(port: int, endpoint: str, kind: str) -> str:
    response = httpx.post(f"http://127.0.0.1:{port}/{endpoint}", json={"kind": kind}, timeout=10)
    assert response.status_code == 200, response.text
    event_id: str = response.json()["id"]
    return event_id


def kinds_run(hub: EventHub, name: str) -> list[str]:
    return sorted(arguments_of(run)["kind"] for run in hub.runs(sensor=name))


def test_apply_then_change_the_filter_without_restart(cli: Cli) -> None:
    hub, port, name = cli.hub, free_port(), "builds"
    pid = hub.pid

    created = cli.apply(event_source(name, port), sensor(name))
    assert created.returncode == 0, created.stderr
    assert created.stdout.splitlines() == [
        "eventsource/default/builds created",
        "sensor/default/builds created",
    ]

    # Events are processed in bus order: once the `build` run exists, `deploy` was seen and dropped.
    dropped = post(port, name, "deploy")
    post(port, name, "build")
    hub.wait_runs(1, sensor=name)
    assert hub.lineage(dropped)["sensors"] == []
    assert kinds_run(hub, name) == ["build"]

    changed = cli.apply(event_source(name, port), sensor(name, kinds="[deploy]"))
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.splitlines() == [
        "eventsource/default/builds unchanged",
        "sensor/default/builds configured",
    ]
    dropped = post(port, name, "build")
    post(port, name, "deploy")
    hub.wait_runs(2, sensor=name)
    assert hub.lineage(dropped)["sensors"] == []
    assert kinds_run(hub, name) == ["build", "deploy"]

    # A broken version of the same sensor is refused and the running one stays as it was.
    broken = cli.apply(sensor(name, kinds="[build]", comparator="=~"))
    assert broken.returncode == 2, broken.stdout + broken.stderr
    assert "spec.dependencies[0].filters.data[0].comparator" in broken.stderr
    dropped = post(port, name, "build")
    post(port, name, "deploy")
    hub.wait_runs(3, sensor=name)
    assert hub.lineage(dropped)["sensors"] == []
    assert kinds_run(hub, name) == ["build", "deploy", "deploy"]

    assert hub.pid == pid and process_alive(pid), "the hub was restarted"
    assert hub.starts == 1


MALFORMED_YAML = "apiVersion: argoproj.io/v1alpha1\nkind: Sensor\nmetadata: {name: broken\n"


ERROR_CASES: dict[str, tuple[str, str]] = {
    "malformed-yaml": (MALFORMED_YAML, "malformed YAML at line 4"),
    "missing-field": (
        sensor("broken").replace("      eventName: hook\n", ""),
        "spec.dependencies[0].eventName: event dependency must define the EventName",
    ),
    "unsupported-trigger-kind": (
        sensor("broken", trigger_kind="nats"),
        "spec.triggers[0].template.nats: trigger kind 'nats' is not supported by Triggerfish yet",
    ),
    "unknown-trigger-kind": (
        sensor("broken", trigger_kind="frobnicate"),
        "spec.triggers[0].template.frobnicate: unknown field",
    ),
    "bad-comparator": (
        sensor("broken", comparator="=~"),
        "spec.dependencies[0].filters.data[0].comparator: Input should be",
    ),
    "unknown-source-field": (
        event_source("broken", 8080).replace("method: POST", "method: POST\n      colour: red"),
        "spec.webhook.hook.colour: unknown field",
    ),
}


def test_errors_name_the_field(cli: Cli) -> None:
    """Every case at once (concurrent CLI processes); each must exit 2 naming its field."""
    before = cli.hub.events(limit=1000)
    results = dict(zip(ERROR_CASES, cli.apply_each(*(m for m, _ in ERROR_CASES.values())), strict=True))
    wrong = {
        case: (result.returncode, result.stdout, result.stderr)
        for case, result in results.items()
        if result.returncode != 2 or ERROR_CASES[case][1] not in result.stderr or result.stdout
    }
    assert not wrong, wrong
    # nothing named `broken` was created: its routes are not served, no event was stored
    assert cli.hub.client.post("/webhooks/default/broken/hook", json={}).status_code == 404
    assert cli.hub.events(limit=1000) == before


def test_route_conflict_on_an_extra_port(cli: Cli) -> None:
    hub, port = cli.hub, free_port()
    hub.apply(yaml.safe_load(event_source("owner", port, endpoint="shared")))

    squatter, neighbour = cli.apply_each(
        event_source("squatter", port, endpoint="shared"),  # same port and path: refused
        event_source("neighbour", free_port(), endpoint="shared"),  # other port: hub path shadowed
    )
    assert squatter.returncode != 0, squatter.stdout
    assert f"/shared on port {port} is already served by EventSource default/owner" in squatter.stderr
    assert hub.client.post("/webhooks/default/squatter/hook", json={}).status_code == 404

    assert neighbour.returncode == 0, neighbour.stderr
    assert neighbour.stdout.strip() == "eventsource/default/neighbour created"
    assert "POST /shared on the hub port stays with default/owner; use the alias path" in neighbour.stderr

    # The owner still receives on its port and on the hub port; the neighbour via its alias.
    owned = post(port, "shared", "x")
    assert hub.event(owned)["source"] == "owner"
    via_hub = hub.client.post("/shared", json={"kind": "y"})
    assert hub.event(via_hub.json()["id"])["source"] == "owner"
    via_alias = hub.client.post("/webhooks/default/neighbour/hook", json={"kind": "z"})
    assert via_alias.status_code == 200, via_alias.text
    assert hub.event(via_alias.json()["id"])["source"] == "neighbour"


def test_busy_manifest_port_is_reported(cli: Cli) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = cli.apply(event_source("busy", port))
        # refused as a whole: nothing half-applied that senders of the manifest's port cannot reach
        assert result.returncode != 0
        assert f"cannot listen on port {port}" in result.stderr, result.stderr
        assert cli.hub.client.post("/busy", json={"kind": "x"}).status_code == 404
