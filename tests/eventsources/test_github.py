"""The github source: signatures, content types, ping, the events list, delivery ids."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from eventsources.github import GithubDriver, signature, signature_valid
from eventsources.spec import GithubEventSource
from eventsources.webhook import EVENT_ID_HEADER, MASKED_AUTHORIZATION
from tests.eventsources.conftest import FakeContext, http_client, make_ref
from tests.support.cloudevents import data_of

SECRET = "It's a Secret to Everybody"
PAYLOAD = {"ref": "refs/heads/main", "repository": {"full_name": "argoproj/argo-events"}}


def github(**fields: Any) -> GithubEventSource:
    spec = {
        "repositories": [{"owner": "argoproj", "names": ["argo-events"]}],
        "webhook": {"endpoint": "/push", "port": "12000", "method": "POST"},
        "events": ["*"],
        "webhookSecret": {"name": "github-access", "key": "secret"},
    } | fields
    return GithubEventSource.model_validate(spec)


def driver_for(spec: GithubEventSource | None = None) -> tuple[GithubDriver, FakeContext]:
    ctx = FakeContext(make_ref("github", "example", "github"), secrets={("github-access", "secret"): SECRET})
    return GithubDriver(ctx, spec or github()), ctx


def delivery(
    body: bytes,
    *,
    event: str = "push",
    guid: str = "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    content_type: str = "application/json",
    sign: str | None = SECRET,
    **extra: str,
) -> dict[str, Any]:
    headers = {"Content-Type": content_type, "X-GitHub-Event": event, "X-GitHub-Delivery": guid} | extra
    if sign is not None:
        headers["X-Hub-Signature-256"] = signature(sign, body)
    return {"content": body, "headers": headers}


def test_signature_matches_githubs_documented_example() -> None:
    # docs.github.com "Validating webhook deliveries": secret and payload from the example.
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert signature(SECRET, b"Hello, World!") == expected
    assert signature_valid(SECRET, b"Hello, World!", expected)
    assert signature_valid(SECRET, b"Hello, World!", expected.upper().replace("SHA256", "sha256"))
    assert not signature_valid(SECRET, b"Hello, World?", expected)
    assert not signature_valid(SECRET, b"Hello, World!", None)
    assert not signature_valid(SECRET, b"Hello, World!", "sha1=" + expected[7:])


async def test_signed_json_push_is_published_with_argo_data_shape() -> None:
    driver, ctx = driver_for(github(metadata={"repo": "argo-events"}))
    body = json.dumps(PAYLOAD).encode()
    async with http_client(driver) as client:
        response = await client.post("/push", **delivery(body))
    assert response.status_code == 200
    (event,) = ctx.events
    assert event.get_id() == "72d3162e-cc78-11e3-81ab-4c9367dc0958"
    assert response.headers[EVENT_ID_HEADER] == event.get_id()
    data = data_of(event)
    assert data["headers"]["X-Github-Event"] == ["push"]  # Go's canonical spelling, as Argo's sensors use
    assert data["headers"]["X-Github-Delivery"] == ["72d3162e-cc78-11e3-81ab-4c9367dc0958"]
    assert data["body"] == PAYLOAD | {
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    }
    assert data["metadata"] == {"repo": "argo-events"}
    assert event.get_type() == "github" and event.get_source() == "github"


async def test_redelivery_is_a_duplicate_of_the_same_event() -> None:
    driver, ctx = driver_for()
    body = json.dumps(PAYLOAD).encode()
    async with http_client(driver) as client:
        first = await client.post("/push", **delivery(body))
        again = await client.post("/push", **delivery(body))
    assert first.json() == {"id": "72d3162e-cc78-11e3-81ab-4c9367dc0958"}
    assert again.json() == {"id": "72d3162e-cc78-11e3-81ab-4c9367dc0958", "duplicate": True}
    assert len(ctx.events) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Hub-Signature-256": "sha256=" + "0" * 64},
        {"X-Hub-Signature-256": signature("another secret", json.dumps(PAYLOAD).encode())},
        {"X-Hub-Signature-256": "garbage"},
        {},
        {"X-Hub-Signature": "sha1=" + "0" * 40},
    ],
    ids=["zeros", "other-secret", "garbage", "missing", "sha1-only"],
)
async def test_wrong_or_missing_signature_is_401_and_nothing_stored(headers: dict[str, str]) -> None:
    driver, ctx = driver_for()
    body = json.dumps(PAYLOAD).encode()
    request = delivery(body, sign=None)
    request["headers"] |= headers
    async with http_client(driver) as client:
        response = await client.post("/push", **request)
    assert response.status_code == 401
    assert ctx.events == []
    assert ctx.publish_calls == 0


async def test_signature_covers_the_exact_bytes() -> None:
    driver, ctx = driver_for()
    body = json.dumps(PAYLOAD).encode()
    request = delivery(body)
    request["content"] = json.dumps(PAYLOAD, indent=2).encode()  # same JSON, different bytes
    async with http_client(driver) as client:
        response = await client.post("/push", **request)
    assert response.status_code == 401
    assert ctx.events == []


async def test_unsigned_deliveries_are_accepted_without_webhook_secret() -> None:
    driver, ctx = driver_for(github(webhookSecret=None))
    async with http_client(driver) as client:
        response = await client.post("/push", **delivery(b'{"zen": 1}', sign=None))
    assert response.status_code == 200
    assert len(ctx.events) == 1


async def test_unavailable_secret_fails_closed() -> None:
    driver, ctx = driver_for(github(webhookSecret={"name": "missing", "key": "secret"}))
    async with http_client(driver) as client:
        response = await client.post("/push", **delivery(b"{}"))
    assert response.status_code == 500
    assert ctx.events == []


async def test_form_encoded_delivery_uses_the_payload_field() -> None:
    driver, ctx = driver_for()
    body = urlencode({"payload": json.dumps(PAYLOAD)}).encode()
    async with http_client(driver) as client:
        response = await client.post(
            "/push", **delivery(body, content_type="application/x-www-form-urlencoded")
        )
    assert response.status_code == 200
    assert ctx.data[0]["body"]["ref"] == "refs/heads/main"


async def test_form_without_payload_is_400() -> None:
    driver, ctx = driver_for()
    body = b"other=1"
    async with http_client(driver) as client:
        response = await client.post(
            "/push", **delivery(body, content_type="application/x-www-form-urlencoded")
        )
    assert response.status_code == 400
    assert ctx.events == []


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"text"'])
async def test_malformed_or_non_object_payload_is_400(body: bytes) -> None:
    driver, ctx = driver_for()
    async with http_client(driver) as client:
        response = await client.post("/push", **delivery(body))
    assert response.status_code == 400
    assert ctx.events == []


async def test_unsupported_content_type_is_400() -> None:
    driver, ctx = driver_for()
    async with http_client(driver) as client:
        response = await client.post("/push", **delivery(b"{}", content_type="text/plain"))
    assert response.status_code == 400
    assert ctx.events == []


async def test_oversized_delivery_is_413() -> None:
    spec = github(webhook={"endpoint": "/push", "port": "12000", "maxPayloadSize": 64})
    driver, ctx = driver_for(spec)
    body = json.dumps({"padding": "x" * 100}).encode()
    async with http_client(driver) as client:
        response = await client.post("/push", **delivery(body))
    assert response.status_code == 413
    assert ctx.events == []


async def test_ping_is_answered_and_not_published() -> None:
    driver, ctx = driver_for()
    async with http_client(driver) as client:
        response = await client.post(
            "/push", **delivery(b'{"zen": "Keep it logically awesome.", "hook_id": 1}', event="ping")
        )
    assert response.status_code == 200
    assert response.json()["ignored"] == "ping"
    assert ctx.events == []


async def test_events_outside_the_list_are_acknowledged_and_dropped() -> None:
    driver, ctx = driver_for(github(events=["push", "pull_request"]))
    async with http_client(driver) as client:
        ignored = await client.post("/push", **delivery(b"{}", event="issues", guid="a"))
        taken = await client.post(
            "/push", **delivery(b'{"action": "opened"}', event="pull_request", guid="b")
        )
    assert ignored.status_code == 200 and ignored.json()["id"] is None
    assert taken.status_code == 200
    assert ctx.ids == ["b"]


async def test_wrong_method_is_405_and_default_is_post() -> None:
    spec = github(webhook={"endpoint": "/push", "port": "12000"})
    driver, _ = driver_for(spec)
    async with http_client(driver) as client:
        response = await client.put("/push", **delivery(b"{}"))
        ok = await client.post("/push", **delivery(b"{}"))
    assert response.status_code == 405
    assert ok.status_code == 200


async def test_auth_secret_applies_and_is_masked() -> None:
    spec = github(
        webhook={
            "endpoint": "/push",
            "port": "12000",
            "authSecret": {"name": "github-access", "key": "secret"},
        }
    )
    driver, ctx = driver_for(spec)
    async with http_client(driver) as client:
        refused = await client.post("/push", **delivery(b"{}", guid="x"))
        accepted = await client.post("/push", **delivery(b"{}", guid="y", Authorization=f"Bearer {SECRET}"))
    assert refused.status_code == 401
    assert accepted.status_code == 200
    assert ctx.data[0]["headers"]["Authorization"] == [MASKED_AUTHORIZATION]


async def test_missing_delivery_id_falls_back_to_the_body_digest() -> None:
    driver, ctx = driver_for()
    request = delivery(b'{"a": 1}', guid="")
    del request["headers"]["X-GitHub-Delivery"]
    async with http_client(driver) as client:
        await client.post("/push", **request)
        await client.post("/push", **request)
    assert len(ctx.events) == 1
    assert ctx.ids[0].startswith("sha256:")


async def test_route_uses_the_webhook_endpoint_and_port() -> None:
    driver, _ = driver_for()
    (route,) = driver.routes()
    assert (route.path, route.port) == ("/push", 12000)
