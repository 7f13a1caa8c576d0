"""GitHub → Sensor → Workflow over real HTTP against a ``triggerfish server`` subprocess.

A signed ``pull_request`` delivery reaches the ``github`` EventSource (on the manifest's own port,
the hub port and the alias path), the sensor of Argo Events' GitHub example (filters on headers and
body, ``k8s`` trigger, parameters from ``body.pull_request.*`` with ``dataKey``, ``dataTemplate``
with ``substr`` and an ``append`` to ``metadata.name``) creates one workflow run that Succeeds with
the rendered parameters. Redeliveries are duplicates; bad signatures, malformed or oversized bodies,
pings and unlisted event types store nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.event_hub import (
    EventHub,
    arguments_of,
    event_hubs,
    github_signature,
    needs_isolation,
    step_inputs,
)
from tests.support.processes import free_port

pytestmark = needs_isolation

SECRET = "it-is-a-secret"
GUARD_LIMIT = 2048

# Argo Events' examples/sensors/github.yaml, unmodified but for its comments and one long line
# folded with a YAML escaped line break (same value).
ARGO_GITHUB_SENSOR = """
apiVersion: argoproj.io/v1alpha1
kind: Sensor
metadata:
  name: github
spec:
  template:
    serviceAccountName: operate-workflow-sa
  dependencies:
    - name: test-dep
      eventSourceName: github
      eventName: example
      filters:
        data:
          - path: headers.X-Github-Event
            type: string
            value:
              - pull_request
          - path: body.action
            type: string
            value:
              - opened
              - edited
              - reopened
              - synchronize
          - path: body.pull_request.state
            type: string
            value:
              - open
          - path: body.pull_request.base.ref
            type: string
            value:
              - master
  triggers:
    - template:
        name: github-workflow-trigger
        k8s:
          operation: create
          source:
            resource:
              apiVersion: argoproj.io/v1alpha1
              kind: Workflow
              metadata:
                generateName: github-
              spec:
                entrypoint: print-message
                arguments:
                  parameters:
                    - name: pr-title
                    - name: pr-number
                    - name: short-sha
                templates:
                  - name: print-message
                    inputs:
                      parameters:
                        - name: pr-title
                        - name: pr-number
                        - name: short-sha
                    container:
                      image: busybox
                      command: [echo]
                      args: ["{{inputs.parameters.pr-title}}"]
          parameters:
            - src:
                dependencyName: test-dep
                dataKey: body.pull_request.title
              dest: spec.arguments.parameters.0.value
            - src:
                dependencyName: test-dep
                dataKey: body.pull_request.number
              dest: spec.arguments.parameters.1.value
            - src:
                dependencyName: test-dep
                dataTemplate: "{{ .Input.body.pull_request.head.sha | substr 0 7 }}"
              dest: spec.arguments.parameters.2.value
            - src:
                dependencyName: test-dep
                dataTemplate: "{{ .Input.body.pull_request.number }}-{{ .Input.body.pull_request.head.sha \
                  | substr 0 7 }}"
              dest: metadata.name
              operation: append
      retryStrategy:
        steps: 3
"""


def event_source(port: int) -> dict[str, Any]:
    """``example`` feeds the sensor; ``guard`` (small payload limit) takes the refused deliveries."""
    common = {
        "repositories": [{"owner": "argoproj", "names": ["argo-events"]}],
        "events": ["pull_request"],
        "webhookSecret": {"name": "github-access", "key": "secret"},
        "contentType": "json",
    }
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "EventSource",
        "metadata": {"name": "github"},
        "spec": {
            "github": {
                "example": {**common, "webhook": {"endpoint": "/push", "port": str(port), "method": "POST"}},
                "guard": {
                    **common,
                    "webhook": {
                        "endpoint": "/guard",
                        "port": str(port),
                        "method": "POST",
                        "maxPayloadSize": GUARD_LIMIT,
                    },
                },
            }
        },
    }


def pull_request(number: int, title: str, sha: str, action: str = "opened") -> dict[str, Any]:
    return {
        "action": action,
        "number": number,
        "pull_request": {
            "number": number,
            "title": title,
            "state": "open",
            "base": {"ref": "master"},
            "head": {"sha": sha, "ref": "feature"},
        },
        "repository": {"full_name": "argoproj/argo-events"},
    }


def signed_headers(body: bytes, event: str, delivery: str, secret: str = SECRET) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": github_signature(secret, body),
    }


class Pipeline:
    def __init__(self, hub: EventHub, port: int) -> None:
        self.hub = hub
        self.port = port

    @property
    def manifest_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def post(self, path: str, body: bytes, headers: dict[str, str], via_hub: bool = False) -> httpx.Response:
        base = self.hub.url if via_hub else self.manifest_url
        return httpx.post(base + path, content=body, headers=headers, timeout=10)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    with event_hubs(tmp_path_factory.mktemp("github")) as make:
        hub = make(settings={"secrets": {"github-access": {"secret": SECRET}}}).start()
        port = free_port()
        hub.apply(event_source(port), yaml.safe_load(ARGO_GITHUB_SENSOR))
        yield Pipeline(hub, port)


@pytest.fixture
def nothing_stored(pipeline: Pipeline) -> Iterator[Callable[[], None]]:
    """Call at the end of a test: no event was appended and no run created since the test began."""
    before_events = pipeline.hub.events(limit=1000)
    before_runs = pipeline.hub.run_names()

    def check() -> None:
        assert pipeline.hub.events(subject="guard") == []
        assert pipeline.hub.events(limit=1000) == before_events
        assert pipeline.hub.run_names() == before_runs

    yield check


# ------------------------------------------------------------------------------------ happy path


def test_signed_pull_request_runs_the_workflow_once(pipeline: Pipeline) -> None:
    hub = pipeline.hub
    payload = pull_request(42, "Add a feature", "2c065a9f00112233445566778899aabbccddeeff")
    body = json.dumps(payload).encode()
    headers = signed_headers(body, "pull_request", "72d3162e-cc78-11e3-81ab-4c9367dc0958")

    response = pipeline.post("/push", body, headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"id": "72d3162e-cc78-11e3-81ab-4c9367dc0958"}
    assert response.headers["X-Triggerfish-Event-Id"] == "72d3162e-cc78-11e3-81ab-4c9367dc0958"

    # Durable before the reply: the event is readable at once, as Argo's GithubEventData.
    stored = hub.event("72d3162e-cc78-11e3-81ab-4c9367dc0958")
    assert (stored["source"], stored["subject"], stored["type"]) == ("github", "example", "github")
    assert stored["data"]["headers"]["X-Github-Event"] == ["pull_request"]
    assert stored["data"]["body"]["pull_request"]["title"] == "Add a feature"
    assert stored["data"]["body"]["X-GitHub-Delivery"] == "72d3162e-cc78-11e3-81ab-4c9367dc0958"

    (run,) = hub.wait_runs(1, sensor="github")
    # Argo's `append` to an absent metadata.name sets it; a set name wins over generateName.
    assert run["metadata"]["name"] == "42-2c065a9"
    done = hub.wait_completed("42-2c065a9", timeout=30)
    assert done["status"]["phase"] == "Succeeded", done["status"]
    expected = {"pr-title": "Add a feature", "pr-number": "42", "short-sha": "2c065a9"}
    assert arguments_of(done) == expected
    assert step_inputs(done) == {"42-2c065a9": expected}
    labels = done["metadata"]["labels"]
    assert labels["events.argoproj.io/sensor"] == "github"
    assert labels["events.argoproj.io/trigger"] == "github-workflow-trigger"

    lineage = hub.lineage("72d3162e-cc78-11e3-81ab-4c9367dc0958")
    assert lineage["sensors"] == [{"sensor": "default/github", "dependencies": ["test-dep"]}]
    assert [(f["trigger"], f["status"]) for f in lineage["firings"]] == [
        ("github-workflow-trigger", "succeeded")
    ]
    assert [w["name"] for w in lineage["workflows"]] == ["42-2c065a9"]

    # GitHub redelivers with the same X-GitHub-Delivery: a duplicate on every route, one run.
    for path, via_hub in (("/push", False), ("/push", True), ("/webhooks/default/github/example", True)):
        again = pipeline.post(path, body, headers, via_hub=via_hub)
        assert again.status_code == 200, (path, via_hub, again.text)
        assert again.json() == {"id": "72d3162e-cc78-11e3-81ab-4c9367dc0958", "duplicate": True}
    assert [e["id"] for e in hub.events(subject="example")] == ["72d3162e-cc78-11e3-81ab-4c9367dc0958"]
    time.sleep(1.0)  # a second firing would have created its run by now
    runs_of_42 = [r for r in hub.runs(sensor="github") if arguments_of(r).get("pr-number") == "42"]
    assert [r["metadata"]["name"] for r in runs_of_42] == ["42-2c065a9"]
    assert len(hub.lineage("72d3162e-cc78-11e3-81ab-4c9367dc0958")["firings"]) == 1


def test_filtered_out_pull_request_is_stored_but_runs_nothing(pipeline: Pipeline) -> None:
    """``action: closed`` fails the example's ``body.action`` filter: an event, no run. A matching
    delivery right after it is processed after it (bus order), so once its run exists the closed
    one has been judged."""
    hub = pipeline.hub
    closed = json.dumps(pull_request(7, "Closed one", "abcdef0123456789", action="closed")).encode()
    response = pipeline.post(
        "/push", closed, signed_headers(closed, "pull_request", "closed-7"), via_hub=True
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"id": "closed-7"}
    reopened = json.dumps(pull_request(8, "Reopened", "0123456789abcdef", action="reopened")).encode()
    assert pipeline.post("/push", reopened, signed_headers(reopened, "pull_request", "reopened-8")).is_success

    hub.wait_runs(1, sensor="github", predicate=lambda r: r["metadata"]["name"] == "8-0123456")
    lineage = hub.lineage("closed-7")
    assert lineage["sensors"] == [] and lineage["firings"] == [] and lineage["workflows"] == []
    assert not [r for r in hub.runs(sensor="github") if arguments_of(r).get("pr-number") == "7"]


# ------------------------------------------------------------------------------------ refusals


def test_bad_signature_is_401_and_stores_nothing(
    pipeline: Pipeline, nothing_stored: Callable[[], None]
) -> None:
    body = json.dumps(pull_request(1, "Evil", "0" * 40)).encode()
    forged = signed_headers(body, "pull_request", "forged-1", secret="not-the-secret")
    assert pipeline.post("/guard", body, forged).status_code == 401
    tampered = signed_headers(body, "pull_request", "forged-2")
    response = pipeline.post("/guard", body.replace(b"Evil", b"Evi1"), tampered)
    assert response.status_code == 401
    missing = {
        k: v for k, v in signed_headers(body, "pull_request", "forged-3").items() if "Signature" not in k
    }
    assert pipeline.post("/guard", body, missing, via_hub=True).status_code == 401
    # the legacy SHA-1 header alone is not enough
    assert pipeline.post("/guard", body, {**missing, "X-Hub-Signature": "sha1=00"}).status_code == 401
    nothing_stored()


def test_malformed_json_is_400(pipeline: Pipeline, nothing_stored: Callable[[], None]) -> None:
    body = b'{"action": "opened", "pull_request": {'
    response = pipeline.post("/guard", body, signed_headers(body, "pull_request", "broken-1"))
    assert response.status_code == 400, response.text
    assert "JSON" in response.json()["error"]
    nothing_stored()


def test_oversized_body_is_413(pipeline: Pipeline, nothing_stored: Callable[[], None]) -> None:
    payload = pull_request(3, "x" * GUARD_LIMIT, "1" * 40)
    body = json.dumps(payload).encode()
    assert len(body) > GUARD_LIMIT
    headers = signed_headers(body, "pull_request", "big-1")
    response = pipeline.post("/guard", body, headers)
    assert response.status_code == 413, response.text
    # Without Content-Length (chunked): refused while streaming.
    chunks = [body[i : i + 512] for i in range(0, len(body), 512)]
    streamed = httpx.post(pipeline.manifest_url + "/guard", content=iter(chunks), headers=headers, timeout=10)
    assert streamed.status_code == 413, streamed.text
    # A body just under the limit on the same route is accepted by size (then ignored: a ping).
    small = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()
    assert pipeline.post("/guard", small, signed_headers(small, "ping", "ping-0")).status_code == 200
    nothing_stored()


def test_ping_is_200_and_stores_nothing(pipeline: Pipeline, nothing_stored: Callable[[], None]) -> None:
    body = json.dumps({"zen": "Design for failure.", "hook_id": 12345, "hook": {"events": ["*"]}}).encode()
    response = pipeline.post("/guard", body, signed_headers(body, "ping", "ping-1"))
    assert response.status_code == 200, response.text
    assert response.json()["id"] is None
    assert "X-Triggerfish-Event-Id" not in response.headers
    nothing_stored()


def test_unlisted_event_type_is_200_and_stores_nothing(
    pipeline: Pipeline, nothing_stored: Callable[[], None]
) -> None:
    body = json.dumps({"action": "opened", "issue": {"number": 9, "title": "Bug"}}).encode()
    response = pipeline.post("/guard", body, signed_headers(body, "issues", "issue-9"), via_hub=True)
    assert response.status_code == 200, response.text
    assert response.json()["id"] is None
    assert "issues" in response.json()["ignored"]
    nothing_stored()


# ------------------------------------------------------------------------------------ durability


def test_event_is_durable_before_the_reply(tmp_path: Path) -> None:
    """SIGKILL the hub right after the 200: the event survives, and the sensor then fires once."""
    with event_hubs(tmp_path) as make:
        hub = make(settings={"secrets": {"github-access": {"secret": SECRET}}}).start()
        port = free_port()
        hub.apply(event_source(port), yaml.safe_load(ARGO_GITHUB_SENSOR))
        body = json.dumps(pull_request(5, "Crash me", "feedfacecafebeef")).encode()
        headers = signed_headers(body, "pull_request", "durable-5")
        response = httpx.post(f"{hub.url}/push", content=body, headers=headers, timeout=10)
        assert response.status_code == 200, response.text
        hub.kill()

        hub.start()
        assert [e["id"] for e in hub.events()] == ["durable-5"]
        again = httpx.post(f"http://127.0.0.1:{port}/push", content=body, headers=headers, timeout=10)
        assert again.json() == {"id": "durable-5", "duplicate": True}
        (run,) = hub.wait_runs(1, sensor="github")
        assert run["metadata"]["name"] == "5-feedfac"
        assert hub.wait_completed("5-feedfac", timeout=30)["status"]["phase"] == "Succeeded"
        time.sleep(0.5)
        assert hub.run_names() == ["5-feedfac"]
