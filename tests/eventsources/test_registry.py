"""The registry: kind → spec model and driver; drivers built from a loaded manifest."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from eventsources.base import SourceContext, SourceRef
from eventsources.calendar import CalendarDriver
from eventsources.github import GithubDriver
from eventsources.registry import KINDS, SourceServices, create_drivers, driver_factory, get_kind, refs
from eventsources.s3 import S3Driver, S3Settings
from eventsources.spec import SUPPORTED_KINDS, CalendarEventSource, load_event_source
from eventsources.webhook import WebhookDriver
from tests.eventsources.conftest import FakeContext, make_ref
from tests.support.clock import FakeClock

MANIFEST = """
apiVersion: argoproj.io/v1alpha1
kind: EventSource
metadata: {name: everything, namespace: team-a}
spec:
  webhook:
    hook: {endpoint: /hook, method: POST, port: "12000"}
  github:
    gh:
      repositories: [{owner: argoproj, names: [argo-events]}]
      webhook: {endpoint: /push, port: "13000", method: POST}
  calendar:
    tick: {interval: 10s}
  minio:
    upload: {bucket: {name: input}}
"""


def test_every_supported_kind_is_registered() -> None:
    assert tuple(KINDS) == SUPPORTED_KINDS
    assert get_kind("calendar").spec_type is CalendarEventSource
    with pytest.raises(KeyError, match="unknown event source kind 'amqp'"):
        get_kind("amqp")


def test_drivers_for_a_manifest() -> None:
    es = load_event_source(MANIFEST)
    contexts: dict[str, FakeContext] = {}

    def context_for(ref: SourceRef) -> SourceContext:
        contexts[ref.event_name] = FakeContext(ref)
        return contexts[ref.event_name]

    clock = FakeClock(datetime(2024, 1, 1, tzinfo=UTC))
    drivers = create_drivers(es, context_for, SourceServices(clock=clock, s3=S3Settings(auth_token="t")))
    assert [type(d) for d in drivers] == [WebhookDriver, GithubDriver, CalendarDriver, S3Driver]
    assert [d.kind for d in drivers] == ["webhook", "github", "calendar", "minio"]
    assert contexts["upload"].ref == SourceRef("team-a", "everything", "upload", "minio")
    routes = [(r.path, r.port) for d in drivers for r in d.routes()]
    assert routes == [("/hook", 12000), ("/push", 13000), ("/s3/team-a/everything/upload", None)]
    calendar = drivers[2]
    assert isinstance(calendar, CalendarDriver) and calendar.clock is clock
    s3 = drivers[3]
    assert isinstance(s3, S3Driver) and s3.settings.auth_token == "t"


def test_default_namespace_applies_when_the_manifest_has_none() -> None:
    es = load_event_source(MANIFEST.replace(", namespace: team-a", ""))
    assert {ref.namespace for ref, _ in refs(es, namespace="hub-default")} == {"hub-default"}


def test_driver_factory_matches_the_base_contract() -> None:
    factory = driver_factory("webhook")
    driver = factory(FakeContext(make_ref("webhook")), {"endpoint": "/x", "method": "POST", "port": "1"})
    assert isinstance(driver, WebhookDriver)
    assert driver.spec.port_number == 1
