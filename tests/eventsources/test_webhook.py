"""The webhook source over real HTTP (Starlette app from its routes, httpx in process)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from eventsources.spec import WebhookEventSource
from eventsources.webhook import (
    EVENT_ID_HEADER,
    MASKED_AUTHORIZATION,
    WebhookDriver,
    canonical_header_key,
    scoped_id,
)
from tests.eventsources.conftest import FakeContext, http_client, make_ref
from tests.support.cloudevents import data_of


def webhook(**fields: Any) -> WebhookEventSource:
    spec = {"endpoint": "/example", "method": "POST", "port": "12000"} | fields
    return WebhookEventSource.model_validate(spec)


def driver_for(spec: WebhookEventSource, **context: Any) -> tuple[WebhookDriver, FakeContext]:
    ctx = FakeContext(make_ref("webhook"), **context)
    return WebhookDriver(ctx, spec), ctx


async def test_route_is_the_endpoint_on_the_manifest_port() -> None:
    driver, _ = driver_for(webhook())
    (route,) = driver.routes()
    assert route.path == "/example"
    assert route.port == 12000
    assert "POST" in route.methods and "GET" in route.methods  # the handler answers wrong methods


async def test_json_post_is_published_before_the_reply_with_argo_data_shape() -> None:
    driver, ctx = driver_for(webhook(metadata={"team": "data"}))
    async with http_client(driver) as client:
        response = await client.post("/example", json={"message": "hello"}, headers={"X-Custom": "a"})
    assert response.status_code == 200
    (event,) = ctx.events
    assert response.json() == {"id": event.get_id()}
    assert response.headers[EVENT_ID_HEADER] == event.get_id()
    data = data_of(event)
    assert data["body"] == {"message": "hello"}
    assert data["header"]["Content-Type"] == ["application/json"]
    assert data["header"]["X-Custom"] == ["a"]
    assert data["metadata"] == {"team": "data"}
    assert event.get_source() == "es"
    assert event.get_type() == "webhook"
    assert event.get_subject() == "example"
    assert event.get_extension("namespace") == "default"
    assert event.get_time() is not None


async def test_metadata_is_omitted_when_unset() -> None:
    driver, ctx = driver_for(webhook())
    async with http_client(driver) as client:
        await client.post("/example", json=[1, 2])
    assert ctx.data == [{"header": ctx.data[0]["header"], "body": [1, 2]}]


async def test_bus_failure_is_a_500_and_no_success() -> None:
    driver, ctx = driver_for(webhook(), fail_next=1)
    async with http_client(driver) as client:
        response = await client.post("/example", json={})
    assert response.status_code == 500
    assert EVENT_ID_HEADER not in response.headers
    assert ctx.events == []


async def test_wrong_method_is_405_with_allow() -> None:
    driver, ctx = driver_for(webhook())
    async with http_client(driver) as client:
        response = await client.put("/example", json={})
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert ctx.events == []


@pytest.fixture
def authed() -> tuple[WebhookDriver, FakeContext]:
    return driver_for(
        webhook(authSecret={"name": "hook", "key": "token"}), secrets={("hook", "token"): "s3cret"}
    )


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (None, 401),
        ("s3cret", 401),
        ("Bearer wrong", 401),
        ("Bearer s3cret-longer", 401),
        ("Bearer s3cret", 200),
    ],
)
async def test_auth_secret_requires_the_bearer_token(
    authed: tuple[WebhookDriver, FakeContext], authorization: str | None, status: int
) -> None:
    driver, ctx = authed
    headers = {"Authorization": authorization} if authorization else {}
    async with http_client(driver) as client:
        response = await client.post("/example", json={"a": 1}, headers=headers)
    assert response.status_code == status
    assert len(ctx.events) == (1 if status == 200 else 0)


async def test_authorization_header_is_masked_in_the_event(authed: tuple[WebhookDriver, FakeContext]) -> None:
    driver, ctx = authed
    async with http_client(driver) as client:
        await client.post("/example", json={}, headers={"Authorization": "Bearer s3cret"})
    assert ctx.data[0]["header"]["Authorization"] == [MASKED_AUTHORIZATION]


async def test_unresolvable_auth_secret_is_a_500() -> None:
    driver, ctx = driver_for(webhook(authSecret={"name": "missing", "key": "token"}))
    async with http_client(driver) as client:
        response = await client.post("/example", json={}, headers={"Authorization": "Bearer x"})
    assert response.status_code == 500
    assert ctx.events == []


async def test_auth_is_checked_before_the_method() -> None:
    driver, _ = driver_for(
        webhook(authSecret={"name": "hook", "key": "token"}), secrets={("hook", "token"): "t"}
    )
    async with http_client(driver) as client:
        response = await client.get("/example")
    assert response.status_code == 401


async def test_declared_oversized_body_is_413() -> None:
    driver, ctx = driver_for(webhook(maxPayloadSize=10))
    async with http_client(driver) as client:
        response = await client.post(
            "/example", content=b'{"a": "0123456789"}', headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 413
    assert ctx.events == []


async def test_streamed_oversized_body_is_413_without_reading_it_all() -> None:
    driver, ctx = driver_for(webhook(maxPayloadSize=100))
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(1000):
            sent += 1
            yield b"x" * 50

    async with http_client(driver) as client:
        response = await client.post("/example", content=chunks())
    assert response.status_code == 413
    assert ctx.events == []
    assert sent < 10  # refused as soon as the limit was passed, not after reading 50 kB


async def test_body_at_the_limit_is_accepted() -> None:
    body = b'{"k": "' + b"v" * 20 + b'"}'
    driver, ctx = driver_for(webhook(maxPayloadSize=len(body)))
    async with http_client(driver) as client:
        response = await client.post("/example", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    assert ctx.data[0]["body"] == {"k": "v" * 20}


async def test_default_limit_is_argos_one_mebibyte() -> None:
    assert webhook().payload_limit == 1_048_576


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", None])
async def test_malformed_json_is_400(content_type: str | None) -> None:
    driver, ctx = driver_for(webhook())
    headers = {"Content-Type": content_type} if content_type else {}
    async with http_client(driver) as client:
        response = await client.post("/example", content=b"{not json", headers=headers)
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]
    assert ctx.events == []


async def test_json_body_with_another_content_type_is_still_json() -> None:
    driver, ctx = driver_for(webhook())
    async with http_client(driver) as client:
        response = await client.post("/example", content=b'{"a": 1}', headers={"Content-Type": "text/plain"})
    assert response.status_code == 200
    assert ctx.data[0]["body"] == {"a": 1}


async def test_empty_body_is_null() -> None:
    driver, ctx = driver_for(webhook())
    async with http_client(driver) as client:
        response = await client.post("/example")
    assert response.status_code == 200
    assert ctx.data[0]["body"] is None


async def test_form_body_becomes_lists_of_values() -> None:
    driver, ctx = driver_for(webhook())
    async with http_client(driver) as client:
        response = await client.post(
            "/example",
            content=b"a=1&a=2&b=&c=x+y",
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        )
    assert response.status_code == 200
    assert ctx.data[0]["body"] == {"a": ["1", "2"], "b": [""], "c": ["x y"]}


async def test_get_webhook_body_is_the_query() -> None:
    driver, ctx = driver_for(webhook(method="get"))
    async with http_client(driver) as client:
        response = await client.get("/example", params=[("q", "1"), ("q", "2"), ("r", "x")])
    assert response.status_code == 200
    assert ctx.data[0]["body"] == {"q": ["1", "2"], "r": ["x"]}


async def test_idempotency_key_makes_retries_one_event() -> None:
    driver, ctx = driver_for(webhook())
    async with http_client(driver) as client:
        first = await client.post("/example", json={"n": 1}, headers={"Idempotency-Key": "delivery-7"})
        again = await client.post("/example", json={"n": 1}, headers={"Idempotency-Key": "delivery-7"})
        other = await client.post("/example", json={"n": 2}, headers={"Idempotency-Key": "delivery-8"})
    assert first.json() == {"id": "default/es/example:delivery-7"}
    assert again.json() == {"id": "default/es/example:delivery-7", "duplicate": True}
    assert again.headers[EVENT_ID_HEADER] == "default/es/example:delivery-7"
    assert other.status_code == 200
    assert ctx.ids == ["default/es/example:delivery-7", "default/es/example:delivery-8"]


async def test_without_idempotency_key_every_request_is_new() -> None:
    driver, ctx = driver_for(webhook())
    async with http_client(driver) as client:
        for _ in range(3):
            await client.post("/example", json={"same": True}, headers={"X-Request-Id": "r1"})
    assert len(set(ctx.ids)) == 3


def test_scoped_ids_are_bounded() -> None:
    ref = make_ref("webhook")
    assert scoped_id(ref, "k") == "default/es/example:k"
    long_id = scoped_id(ref, "k" * 1000)
    assert long_id.startswith("sha256:") and len(long_id) < 100
    assert long_id == scoped_id(ref, "k" * 1000)


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("x-github-event", "X-Github-Event"),
        ("CONTENT-TYPE", "Content-Type"),
        ("x-hub-signature-256", "X-Hub-Signature-256"),
        ("idempotency-key", "Idempotency-Key"),
        ("bad header", "bad header"),
    ],
)
def test_header_names_are_canonical_like_go(raw: str, canonical: str) -> None:
    assert canonical_header_key(raw) == canonical


async def test_repeated_headers_keep_every_value() -> None:
    driver, ctx = driver_for(webhook())
    async with http_client(driver) as client:
        await client.post("/example", json={}, headers=[("X-Tag", "a"), ("x-tag", "b")])
    assert ctx.data[0]["header"]["X-Tag"] == ["a", "b"]
