"""The http trigger against a real HTTP server on the loopback interface."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from sensors.runtime import SensorRunner
from sensors.spec import HttpTrigger, load_sensor
from triggerfish.events import Event
from triggers.base import Firing, TriggerError
from triggers.firings import FiringStore
from triggers.http import HttpTriggerDriver

from ..sensors.helpers import FakeClock, MemoryBus, event


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Server:
    url: str
    received: list[Received] = field(default_factory=list)
    status: int = 200
    delay: float = 0.0


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server(url="")

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            state.received.append(Received(self.command, self.path, dict(self.headers.items()), body))
            if state.delay:
                time.sleep(state.delay)
            self.send_response(state.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


def firing(events: dict[str, Event], namespace: str = "default") -> Firing:
    return Firing(namespace, "s", "t", "key", events, [1])


def spec(**fields: Any) -> HttpTrigger:
    return HttpTrigger.model_validate(fields)


async def test_post_with_payload_and_headers(server: Server) -> None:
    driver = HttpTriggerDriver()
    try:
        events = {"dep": event("example", {"body": {"message": "hi", "count": 3}})}
        result = await driver.fire(
            spec(
                url=f"{server.url}/hook?x=1",
                headers={"Content-Type": "application/json", "X-Static": "1"},
                payload=[
                    {"src": {"dependencyName": "dep", "dataKey": "body.message"}, "dest": "message"},
                    {
                        "src": {"dependencyName": "dep", "dataKey": "body.count", "useRawData": True},
                        "dest": "meta.count",
                    },
                    {"src": {"dependencyName": "dep", "contextKey": "subject"}, "dest": "meta.subject"},
                ],
                dynamicHeaders=[
                    {"src": {"dependencyName": "dep", "dataKey": "body.message"}, "dest": "X-Message"}
                ],
            ),
            firing(events),
        )
    finally:
        await driver.aclose()
    assert result.details == {"status": 200, "method": "POST", "url": f"{server.url}/hook?x=1"}
    (request,) = server.received
    assert (request.method, request.path) == ("POST", "/hook?x=1")
    assert json.loads(request.body) == {"message": "hi", "meta": {"count": 3, "subject": "example"}}
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Static"] == "1"
    assert request.headers["X-Message"] == "hi"


async def test_get_without_payload_sends_no_body(server: Server) -> None:
    driver = HttpTriggerDriver()
    try:
        await driver.fire(spec(url=server.url, method="GET"), firing({"dep": event("example", {})}))
    finally:
        await driver.aclose()
    (request,) = server.received
    assert request.method == "GET" and request.body == b""


async def test_whole_body_from_an_empty_dest(server: Server) -> None:
    driver = HttpTriggerDriver()
    try:
        await driver.fire(
            spec(url=server.url, payload=[{"src": {"dependencyName": "dep", "dataKey": "body"}}]),
            firing({"dep": event("example", {"body": {"a": [1, 2]}})}),
        )
    finally:
        await driver.aclose()
    assert json.loads(server.received[0].body) == {"a": [1, 2]}


async def test_secure_headers_and_basic_auth_read_secrets(server: Server) -> None:
    secrets = {
        ("prod", "tokens", "api"): "s3cr3t",
        ("prod", "creds", "user"): "u",
        ("prod", "creds", "pass"): "p",
    }
    driver = HttpTriggerDriver(secrets=lambda ns, name, key: secrets.get((ns, name, key)))
    try:
        await driver.fire(
            spec(
                url=server.url,
                secureHeaders=[
                    {"name": "Authorization", "valueFrom": {"secretKeyRef": {"name": "tokens", "key": "api"}}}
                ],
            ),
            firing({"dep": event("example", {})}, namespace="prod"),
        )
        await driver.fire(
            spec(
                url=server.url,
                basicAuth={
                    "username": {"name": "creds", "key": "user"},
                    "password": {"name": "creds", "key": "pass"},
                },
            ),
            firing({"dep": event("example", {})}, namespace="prod"),
        )
        with pytest.raises(TriggerError, match="failed to retrieve the value for secureHeader") as excinfo:
            await driver.fire(
                spec(
                    url=server.url,
                    secureHeaders=[{"name": "A", "valueFrom": {"secretKeyRef": {"name": "x", "key": "y"}}}],
                ),
                firing({"dep": event("example", {})}),
            )
        assert not excinfo.value.retryable
    finally:
        await driver.aclose()
    assert server.received[0].headers["Authorization"] == "s3cr3t"
    assert server.received[1].headers["Authorization"] == "Basic " + base64.b64encode(b"u:p").decode()


async def test_any_status_is_a_success_without_a_policy(server: Server) -> None:
    server.status = 500
    driver = HttpTriggerDriver()
    try:
        result = await driver.fire(spec(url=server.url), firing({"dep": event("example", {})}))
    finally:
        await driver.aclose()
    assert result.details["status"] == 500


async def test_timeouts_and_refused_connections_are_retryable(server: Server) -> None:
    server.delay = 2.0
    driver = HttpTriggerDriver()
    try:
        with pytest.raises(TriggerError, match="failed to execute trigger") as excinfo:
            await driver.fire(spec(url=server.url, timeout=1), firing({"dep": event("example", {})}))
        assert excinfo.value.retryable
        with pytest.raises(TriggerError) as refused:
            await driver.fire(spec(url="http://127.0.0.1:9/"), firing({"dep": event("example", {})}))
        assert refused.value.retryable
    finally:
        await driver.aclose()


async def test_missing_payload_value_is_not_retryable(server: Server) -> None:
    driver = HttpTriggerDriver()
    try:
        with pytest.raises(TriggerError, match="unable to resolve") as excinfo:
            await driver.fire(
                spec(
                    url=server.url,
                    payload=[{"src": {"dependencyName": "dep", "dataKey": "nope"}, "dest": "x"}],
                ),
                firing({"dep": event("example", {})}),
            )
        assert not excinfo.value.retryable
    finally:
        await driver.aclose()
    assert server.received == []


async def test_sensor_to_http_end_to_end_with_status_policy(server: Server, engine: AsyncEngine) -> None:
    sensor = load_sensor(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Sensor",
            "metadata": {"name": "webhook"},
            "spec": {
                "dependencies": [{"name": "test-dep", "eventSourceName": "webhook", "eventName": "example"}],
                "triggers": [
                    {
                        "template": {
                            "name": "http-trigger",
                            "http": {
                                "url": f"{server.url}/placeholder",
                                "payload": [
                                    {
                                        "src": {"dependencyName": "test-dep", "dataKey": "body.first_name"},
                                        "dest": "first_name",
                                    },
                                    {
                                        "src": {"dependencyName": "test-dep", "dataKey": "body.last_name"},
                                        "dest": "last_name",
                                    },
                                ],
                                "parameters": [
                                    {
                                        "src": {
                                            "dependencyName": "test-dep",
                                            "dataTemplate": "{{ .Input.body.path }}",
                                        },
                                        "dest": "url",
                                        "operation": "append",
                                    }
                                ],
                                "method": "POST",
                            },
                        },
                        "retryStrategy": {"steps": 3, "duration": "1s"},
                        "policy": {"status": {"allow": [200]}},
                    }
                ],
            },
        }
    )
    bus = MemoryBus()
    clock = FakeClock()
    driver = HttpTriggerDriver()
    runner = SensorRunner(sensor, bus, engine, {"http": driver}, clock)
    await runner.start()
    try:
        first = await bus.publish(
            event("example", {"body": {"first_name": "Ada", "last_name": "Lovelace", "path": "/a"}})
        )
        await runner.wait_idle(first.offset)
        server.status = 503
        second = await bus.publish(
            event("example", {"body": {"first_name": "B", "last_name": "C", "path": "/b"}})
        )
        await runner.wait_idle(second.offset)
    finally:
        await runner.stop()
        await driver.aclose()
    assert [r.path for r in server.received] == [
        "/placeholder/a",
        "/placeholder/b",
        "/placeholder/b",
        "/placeholder/b",
    ]
    assert json.loads(server.received[0].body) == {"first_name": "Ada", "last_name": "Lovelace"}
    records = {r.event_offsets["test-dep"]: r for r in await FiringStore(engine).list("default", "webhook")}
    assert records[first.offset].status == "succeeded"
    assert (records[second.offset].status, records[second.offset].attempts) == ("failed", 3)
    assert "http response status 503 is not allowed" in (records[second.offset].error or "")
