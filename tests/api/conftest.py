"""The Argo-compatible API over real HTTP: each module gets its own ``triggerfish server`` process.

Helpers build manifests, read Server-Sent Event streams and check Argo's error shape.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from tests.support.processes import HubServer, hub_servers, wait_for
from workflow_runtime.executors.local import sandbox

requires_isolation = pytest.mark.skipif(
    sandbox.isolation_problem() is not None, reason=f"no step isolation here: {sandbox.isolation_problem()}"
)

NS = "default"
COMPLETED = ("Succeeded", "Failed", "Error")


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    with hub_servers(tmp_path_factory.mktemp("api")) as make:
        yield make().start()


@pytest.fixture
def api(hub: HubServer) -> httpx.Client:
    return hub.client


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def container(name: str, *command: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "container": {"image": "busybox", "command": list(command)}, **extra}


def echo(name: str, text: str = "hello") -> dict[str, Any]:
    return container(name, "echo", text)


def workflow(
    name: str | None = None,
    *,
    templates: list[dict[str, Any]] | None = None,
    labels: dict[str, str] | None = None,
    entrypoint: str = "main",
    kind: str = "Workflow",
    **spec: Any,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name} if name else {"generateName": "api-"}
    if labels:
        metadata["labels"] = labels
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": kind,
        "metadata": metadata,
        "spec": {"entrypoint": entrypoint, "templates": templates or [echo("main")], **spec},
    }


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def assert_argo_error(response: httpx.Response, status: int, *fragments: str) -> dict[str, Any]:
    """Argo's error body ``{"code": <gRPC code>, "message": ...}`` with the right HTTP status."""
    codes = {400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 422: 3}
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == codes[status], body
    assert isinstance(body["message"], str) and body["message"], body
    for fragment in fragments:
        assert fragment in body["message"], body
    return body


def create(api: httpx.Client, manifest: dict[str, Any], namespace: str = NS) -> dict[str, Any]:
    body: dict[str, Any] = ok(api.post(f"/api/v1/workflows/{namespace}", json={"workflow": manifest}))
    return body


def get(api: httpx.Client, name: str, namespace: str = NS) -> dict[str, Any]:
    body: dict[str, Any] = ok(api.get(f"/api/v1/workflows/{namespace}/{name}"))
    return body


def wait_done(api: httpx.Client, name: str, timeout: float = 30.0, namespace: str = NS) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        document = get(api, name, namespace)
        return document if document["status"]["phase"] in COMPLETED else None

    return wait_for(probe, timeout, f"{name} to complete", interval=0.05)


def nodes_named(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``status.nodes`` by display name."""
    return {n["displayName"]: n for n in (document["status"].get("nodes") or {}).values()}


def wait_node(
    api: httpx.Client, name: str, display: str, phase: str, timeout: float = 20.0
) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        document = get(api, name)
        node = nodes_named(document).get(display)
        return document if node is not None and node["phase"] == phase else None

    return wait_for(probe, timeout, f"node {display} of {name} to be {phase}")


@contextmanager
def sse(
    base_url: str, path: str, params: dict[str, Any] | None = None, read_timeout: float = 30.0
) -> Iterator[Iterator[dict[str, Any]]]:
    """The messages of a Server-Sent Events stream (each ``data:`` line, decoded)."""
    timeout = httpx.Timeout(10.0, read=read_timeout)
    with (
        httpx.Client(base_url=base_url, timeout=timeout) as client,
        client.stream("GET", path, params=params, headers={"Accept": "text/event-stream"}) as response,
    ):
        assert response.status_code == 200, response.read().decode()
        assert response.headers["content-type"].startswith("text/event-stream")

        def messages() -> Iterator[dict[str, Any]]:
            for line in response.iter_lines():
                if line.startswith("data: "):
                    yield json.loads(line[len("data: ") :])

        yield messages()
