"""Bearer tokens on a real ``triggerfish server``: 401 without a valid token, 403 outside the token's
namespaces or beyond its access, and no endpoint that lets a token for namespace ``team-a`` read or
change anything of ``team-b`` (every namespaced route of the OpenAPI schema is tried)."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.event_hub import EventHub, event_hubs, needs_isolation
from tests.support.processes import cli_env, free_port, run_cli, wait_for

pytestmark = needs_isolation

TOKENS = {
    "admin": "admin-secret",
    "a-writer": "a-writer-secret",
    "a-reader": "a-reader-secret",
    "b-writer": "b-writer-secret",
}
SETTINGS = {
    "auth": {
        "tokens": [
            {"name": "admin", "token": TOKENS["admin"], "access": "write"},
            {"name": "a-writer", "token": TOKENS["a-writer"], "namespaces": ["team-a"], "access": "write"},
            {
                "name": "a-reader",
                "token_sha256": hashlib.sha256(TOKENS["a-reader"].encode()).hexdigest(),
                "namespaces": ["team-a"],
            },
            {"name": "b-writer", "token": TOKENS["b-writer"], "namespaces": ["team-b"], "access": "write"},
        ]
    }
}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EventHub]:
    with event_hubs(tmp_path_factory.mktemp("auth")) as make:
        yield make(settings=SETTINGS).start()


def as_(hub: EventHub, who: str) -> httpx.Client:
    return httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {TOKENS[who]}"}, timeout=10.0)


def workflow(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": name},
        "spec": {
            "entrypoint": "main",
            "templates": [{"name": "main", "container": {"image": "busybox", "command": ["true"]}}],
        },
    }


def error(response: httpx.Response, status: int, fragment: str) -> None:
    codes = {401: 16, 403: 7, 404: 5}
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url}: {response.text}"
    )
    body = response.json()
    assert body["code"] == codes[status] and fragment in body["message"], body


def test_missing_or_unknown_tokens_are_401(hub: EventHub) -> None:
    error(hub.client.get("/api/v1/workflows/team-a"), 401, "missing bearer token")
    wrong = hub.client.get("/api/v1/workflows/team-a", headers={"Authorization": "Bearer nope"})
    error(wrong, 401, "not recognised")
    basic = hub.client.get("/api/v1/workflows/team-a", headers={"Authorization": "Basic YWJj"})
    error(basic, 401, "missing bearer token")


def test_health_metrics_and_docs_need_no_token(hub: EventHub) -> None:
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        assert hub.client.get(path).status_code == 200, path


def test_userinfo_names_the_token(hub: EventHub) -> None:
    with as_(hub, "a-reader") as client:
        assert client.get("/api/v1/userinfo").json() == {"subject": "a-reader"}


def test_a_read_token_reads_but_cannot_write(hub: EventHub) -> None:
    name = f"ro-{uuid.uuid4().hex[:6]}"
    with as_(hub, "a-writer") as writer:
        assert writer.post("/api/v1/workflows/team-a", json={"workflow": workflow(name)}).status_code == 200
    with as_(hub, "a-reader") as reader:
        assert reader.get(f"/api/v1/workflows/team-a/{name}").status_code == 200
        lint = reader.post("/api/v1/workflows/team-a/lint", json={"workflow": workflow("x")})
        assert lint.status_code == 200, lint.text  # lint changes nothing
        error(reader.post("/api/v1/workflows/team-a", json={"workflow": workflow("y")}), 403, "read-only")
        error(reader.delete(f"/api/v1/workflows/team-a/{name}"), 403, "read-only")


def test_not_found_and_conflict_keep_their_statuses_for_an_allowed_token(hub: EventHub) -> None:
    name = f"dup-{uuid.uuid4().hex[:6]}"
    with as_(hub, "a-writer") as writer:
        error(writer.get("/api/v1/workflows/team-a/absent"), 404, "not found")
        assert writer.post("/api/v1/workflows/team-a", json={"workflow": workflow(name)}).status_code == 200
        again = writer.post("/api/v1/workflows/team-a", json={"workflow": workflow(name)})
        assert again.status_code == 409 and again.json()["code"] == 6


def concrete(path: str) -> str:
    """A schema path with every placeholder filled, the namespace being ``team-b``."""
    path = path.replace("{namespace}", "team-b")
    return re.sub(r"\{[^}]+\}", "x", path)


def test_no_namespaced_endpoint_lets_team_a_reach_team_b(hub: EventHub) -> None:
    """Every route with ``{namespace}`` in its path, every method: 403, never data or a 404."""
    name = f"secret-{uuid.uuid4().hex[:6]}"
    with as_(hub, "b-writer") as owner:
        assert owner.post("/api/v1/workflows/team-b", json={"workflow": workflow(name)}).status_code == 200
    schema = hub.client.get("/openapi.json").json()
    tried = 0
    with as_(hub, "a-writer") as intruder:
        for path, operations in schema["paths"].items():
            if "{namespace}" not in path:
                continue
            for method in operations:
                url = concrete(path).replace("/x", f"/{name}", 1)
                response = intruder.request(method.upper(), url, json={})
                error(response, 403, "no access to namespace 'team-b'")
                tried += 1
    assert tried >= 30, f"only {tried} namespaced operations in the schema"


def test_listing_all_namespaces_shows_only_the_tokens_namespaces(hub: EventHub) -> None:
    """``argo list -A`` asks ``/api/v1/workflows/``: a team-a token sees team-a's runs, not team-b's."""
    mine, theirs = f"mine-{uuid.uuid4().hex[:6]}", f"theirs-{uuid.uuid4().hex[:6]}"
    with as_(hub, "a-writer") as writer:
        assert writer.post("/api/v1/workflows/team-a", json={"workflow": workflow(mine)}).status_code == 200
    with as_(hub, "b-writer") as other:
        assert other.post("/api/v1/workflows/team-b", json={"workflow": workflow(theirs)}).status_code == 200
    with as_(hub, "a-reader") as reader:
        listed = reader.get("/api/v1/workflows/")
        assert listed.status_code == 200, listed.text
        namespaces = {item["metadata"]["namespace"] for item in listed.json()["items"]}
        names = {item["metadata"]["name"] for item in listed.json()["items"]}
    assert mine in names and theirs not in names and namespaces == {"team-a"}
    with as_(hub, "admin") as admin:
        everything = {item["metadata"]["name"] for item in admin.get("/api/v1/workflows/").json()["items"]}
    assert {mine, theirs} <= everything


def test_cluster_templates_are_readable_by_all_and_changed_only_by_all_namespace_tokens(
    hub: EventHub,
) -> None:
    template = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ClusterWorkflowTemplate",
        "metadata": {"name": f"shared-{uuid.uuid4().hex[:6]}"},
        "spec": workflow("unused")["spec"],
    }
    with as_(hub, "a-writer") as writer:
        denied = writer.post("/api/v1/cluster-workflow-templates", json={"template": template})
        error(denied, 403, "cannot change cluster-scoped resources")
        error(writer.post("/api/v1/triggerfish/manifests", json=template), 403, "cluster-scoped")
    with as_(hub, "admin") as admin:
        created = admin.post("/api/v1/cluster-workflow-templates", json={"template": template})
        assert created.status_code == 200, created.text
    with as_(hub, "a-reader") as reader:
        listed = reader.get("/api/v1/cluster-workflow-templates")
        assert listed.status_code == 200
        assert template["metadata"]["name"] in [t["metadata"]["name"] for t in listed.json()["items"]]


def test_events_of_another_namespace_stay_hidden(hub: EventHub) -> None:
    port = free_port()
    source = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "EventSource",
        "metadata": {"name": "private", "namespace": "team-b"},
        "spec": {"webhook": {"hook": {"endpoint": "/private", "port": str(port), "method": "POST"}}},
    }
    with as_(hub, "a-writer") as intruder:
        error(intruder.post("/api/v1/triggerfish/manifests", json=source), 403, "namespace 'team-b'")
    with as_(hub, "b-writer") as owner:
        assert owner.post("/api/v1/triggerfish/manifests", json=source).status_code == 200
        delivered = httpx.post(f"http://127.0.0.1:{port}/private", json={"pin": 1234}, timeout=10)
        assert delivered.status_code == 200, delivered.text  # webhooks use their own auth, not tokens
        event_id = delivered.json()["id"]
        mine = wait_for(
            lambda: owner.get("/api/v1/triggerfish/events").json()["items"] or None, 10, "the event"
        )
        assert [e["id"] for e in mine] == [event_id]
    with as_(hub, "a-reader") as intruder:
        assert intruder.get("/api/v1/triggerfish/events").json()["items"] == []
        listed = intruder.get("/api/v1/triggerfish/events", params={"namespace": "team-b"})
        error(listed, 403, "no access to namespace 'team-b'")
        for suffix in ("", "/lineage"):
            error(intruder.get(f"/api/v1/triggerfish/events/{event_id}{suffix}"), 404, "not found")
    with as_(hub, "a-writer") as intruder:
        error(intruder.post(f"/api/v1/triggerfish/events/{event_id}/replay"), 404, "not found")
    with as_(hub, "admin") as admin:
        assert admin.get(f"/api/v1/triggerfish/events/{event_id}").json()["data"]["body"] == {"pin": 1234}


def test_the_cli_sends_its_token(hub: EventHub) -> None:
    name = f"cli-{uuid.uuid4().hex[:6]}"
    with as_(hub, "a-writer") as writer:
        assert writer.post("/api/v1/workflows/team-a", json={"workflow": workflow(name)}).status_code == 200
    listed = run_cli(["list", "-n", "team-a", "-o", "name"], env=cli_env(TRIGGERFISH_SERVER=hub.url))
    assert listed.returncode != 0 and "missing bearer token" in listed.stderr
    env = cli_env(TRIGGERFISH_SERVER=hub.url, TRIGGERFISH_TOKEN=TOKENS["a-reader"])
    listed = run_cli(["list", "-n", "team-a", "-o", "name"], env=env)
    assert listed.returncode == 0, listed.stderr
    assert name in listed.stdout.split()
    denied = run_cli(["list", "-n", "team-b", "-o", "name"], env=env)
    assert denied.returncode != 0 and "no access to namespace 'team-b'" in denied.stderr
