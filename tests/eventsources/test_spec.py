"""The EventSource manifest: accepted fields, refusals by name with YAML paths."""

from __future__ import annotations

from typing import Any

import pytest

from eventsources.spec import (
    CalendarEventSource,
    EventSource,
    GithubEventSource,
    load_event_source,
)
from workflow_runtime.spec.errors import ManifestError


def manifest(spec: dict[str, Any], name: str = "es", **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "EventSource",
        "metadata": {"name": name, **metadata},
        "spec": spec,
    }


def issues(doc: dict[str, Any]) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        load_event_source(doc)
    return [str(issue) for issue in caught.value.issues]


WEBHOOK = {"example": {"endpoint": "/example", "method": "POST", "port": "12000"}}


def test_webhook_manifest_with_deployment_fields() -> None:
    es = load_event_source(
        manifest(
            {
                "eventBusName": "default",
                "replicas": 2,
                "template": {"serviceAccountName": "argo-events-sa"},
                "service": {"ports": [{"port": 12000, "targetPort": 12000}]},
                "webhook": WEBHOOK,
            },
            namespace="argo-events",
        )
    )
    assert isinstance(es, EventSource)
    assert es.name == "es" and es.metadata.namespace == "argo-events"
    ((kind, name, entry),) = list(es.entries())
    assert (kind, name, entry.endpoint, entry.method, entry.port_number) == (
        "webhook",
        "example",
        "/example",
        "POST",
        12000,
    )
    assert entry.payload_limit == 1_048_576


def test_yaml_text_is_accepted() -> None:
    es = load_event_source(
        """
apiVersion: argoproj.io/v1alpha1
kind: EventSource
metadata: {name: yaml}
spec:
  webhook:
    example: {endpoint: /x, method: post, port: 12000}
"""
    )
    entry = es.spec.webhook["example"]  # type: ignore[index]
    assert entry.method == "POST" and entry.port == "12000"


@pytest.mark.parametrize(
    ("kind", "path"),
    [
        ("amqp", "spec.amqp"),
        ("nats", "spec.nats"),
        ("sns", "spec.sns"),
        ("pubSub", "spec.pubSub"),
        ("storageGrid", "spec.storageGrid"),
        ("generic", "spec.generic"),
        ("bitbucketserver", "spec.bitbucketserver"),
        ("redisStream", "spec.redisStream"),
        ("resource", "spec.resource"),
        ("mns", "spec.mns"),
    ],
)
def test_other_kinds_are_refused_by_name(kind: str, path: str) -> None:
    assert issues(manifest({kind: {"example": {}}, "webhook": WEBHOOK})) == [
        f"{path}: not supported by Triggerfish yet"
    ]


def test_unknown_fields_are_refused_with_their_path() -> None:
    found = issues(manifest({"webhook": {"example": WEBHOOK["example"] | {"endpont": "/typo"}}}))
    assert found == ["spec.webhook.example.endpont: unknown field"]


def test_every_problem_is_reported() -> None:
    found = issues(
        manifest(
            {
                "webhook": {"a": {"endpoint": "nope", "method": "FETCH", "port": "x"}},
                "calendar": {"b": {"schedule": "every day"}},
            }
        )
    )
    assert "spec.webhook.a.endpoint: endpoint must be a path starting with '/', got 'nope'" in found
    assert "spec.webhook.a.method: unknown HTTP method 'FETCH'" in found
    assert "spec.webhook.a.port: port must be a number between 1 and 65535, got 'x'" in found
    assert any(issue.startswith("spec.calendar.b.schedule: invalid cron expression") for issue in found)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"endpoint": "/x", "port": "1"}, "spec.webhook.example.method: required field is missing"),
        ({"method": "POST", "port": "1"}, "spec.webhook.example.endpoint: required field is missing"),
        ({"endpoint": "/x", "method": "POST"}, "spec.webhook.example.port: required field is missing"),
        (
            {"endpoint": "/x", "method": "POST", "port": "1", "maxPayloadSize": 0},
            "spec.webhook.example.maxPayloadSize: maxPayloadSize must be positive",
        ),
    ],
)
def test_webhook_required_fields(entry: dict[str, Any], expected: str) -> None:
    assert expected in issues(manifest({"webhook": {"example": entry}}))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("serverCertSecret", {"name": "tls", "key": "crt"}),
        ("serverKeySecret", {"name": "tls", "key": "key"}),
        ("basicAuth", {"username": {"name": "u", "key": "u"}}),
        ("filter", {"expression": "body.a == 1"}),
    ],
)
def test_unimplemented_webhook_fields_are_refused(field: str, value: Any) -> None:
    entry = WEBHOOK["example"] | {field: value}
    assert issues(manifest({"webhook": {"example": entry}})) == [
        f"spec.webhook.example.{field}: not supported by Triggerfish yet"
    ]


def test_metadata_and_auth_secret_are_accepted() -> None:
    entry = WEBHOOK["example"] | {"metadata": {"n": 1.0, "b": True}, "authSecret": {"name": "s", "key": "t"}}
    es = load_event_source(manifest({"webhook": {"example": entry}}))
    webhook = es.spec.webhook["example"]  # type: ignore[index]
    assert webhook.metadata == {"n": "1", "b": "true"}
    assert webhook.auth_secret is not None and webhook.auth_secret.key == "t"


def test_duplicate_event_names_and_routes_are_refused() -> None:
    found = issues(
        manifest(
            {
                "webhook": {
                    "a": {"endpoint": "/x", "method": "POST", "port": "12000"},
                    "b": {"endpoint": "/x", "method": "POST", "port": "12000"},
                },
                "calendar": {"a": {"interval": "10s"}},
            }
        )
    )
    assert "spec.webhook.b.endpoint: port 12000 endpoint /x is already used by spec.webhook.a" in found
    assert "spec.calendar.a: event name 'a' is also defined at spec.webhook.a" in found


def test_same_endpoint_on_different_ports_is_allowed() -> None:
    spec = {
        "webhook": {
            "a": {"endpoint": "/x", "method": "POST", "port": "12000"},
            "b": {"endpoint": "/x", "method": "POST", "port": "13000"},
        }
    }
    assert len(list(load_event_source(manifest(spec)).entries())) == 2


def test_header_and_name_are_checked() -> None:
    assert issues({"apiVersion": "v1", "kind": "EventSource", "spec": {}})[0].startswith(
        "apiVersion: must be"
    )
    assert issues(manifest({"webhook": WEBHOOK}) | {"kind": "Sensor"}) == [
        "kind: must be 'EventSource', got 'Sensor'"
    ]
    doc = manifest({"webhook": WEBHOOK})
    del doc["metadata"]["name"]
    assert issues(doc) == ["metadata.name: required field is missing"]
    assert issues(manifest({})) == [
        "spec: no event sources defined (expected one of webhook, github, calendar, minio, kafka)"
    ]


# ------------------------------------------------------------------------------------ github


GITHUB: dict[str, Any] = {
    "repositories": [{"owner": "argoproj", "names": ["argo-events"]}],
    "webhook": {"endpoint": "/push", "port": "12000", "method": "POST"},
    "events": ["*"],
    "webhookSecret": {"name": "github-access", "key": "secret"},
    "insecure": True,
    "active": True,
    "contentType": "json",
}


def test_github_manifest_without_hook_creation_is_accepted() -> None:
    es = load_event_source(manifest({"github": {"example": GITHUB}}))
    entry = es.spec.github["example"]  # type: ignore[index]
    assert isinstance(entry, GithubEventSource)
    assert entry.http.endpoint == "/push"


def test_deprecated_owner_and_repository_count_as_repositories() -> None:
    entry = {k: v for k, v in GITHUB.items() if k != "repositories"} | {
        "owner": "argoproj",
        "repository": "argo",
    }
    es = load_event_source(manifest({"github": {"example": entry}}))
    (owned,) = es.spec.github["example"].owned_repositories()  # type: ignore[index]
    assert (owned.owner, owned.names) == ("argoproj", ["argo"])


@pytest.mark.parametrize("field", ["apiToken", "githubApp"])
def test_hook_creation_is_refused_at_the_credential(field: str) -> None:
    credential = {"name": "github-access", "key": "token"}
    value = credential if field == "apiToken" else {"privateKey": credential, "appID": 1, "installationID": 2}
    entry = GITHUB | {field: value, "webhook": GITHUB["webhook"] | {"url": "http://hub.example.com"}}
    (issue,) = issues(manifest({"github": {"example": entry}}))
    assert issue.startswith(f"spec.github.example.{field}: not supported by Triggerfish yet:")
    assert "register the hook in GitHub" in issue


def test_credentials_without_webhook_url_create_no_hook_and_are_accepted() -> None:
    entry = GITHUB | {"apiToken": {"name": "github-access", "key": "token"}, "deleteHookOnFinish": True}
    load_event_source(manifest({"github": {"example": entry}}))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"repositories": None}, "either repositories or organizations is required"),
        ({"organizations": ["argoproj"]}, "only one of repositories and organizations is allowed"),
        ({"contentType": "xml"}, 'content type must be "json" or "form"'),
        (
            {"githubBaseURL": "https://ghe.example.com/api/v3/"},
            "githubBaseURL and githubUploadURL must be set together",
        ),
        ({"webhook": None}, "webhook is required"),
    ],
)
def test_github_validation_mirrors_argo(change: dict[str, Any], message: str) -> None:
    entry = {k: v for k, v in (GITHUB | change).items() if v is not None}
    assert any(message in issue for issue in issues(manifest({"github": {"example": entry}})))


# ---------------------------------------------------------------------------------- calendar


def test_calendar_manifest_like_argos_examples() -> None:
    es = load_event_source(
        manifest(
            {
                "calendar": {
                    "example-with-interval": {"interval": "10s"},
                    "example-with-catchup": {
                        "schedule": "* * * * *",
                        "persistence": {
                            "catchup": {"enabled": True, "maxDuration": "5m"},
                            "configMap": {"createIfNotExist": True, "name": "test-configmap"},
                        },
                    },
                    "schedule-in-specific-timezone": {
                        "interval": "20s",
                        "metadata": {"hello": "world"},
                        "timezone": "America/New_York",
                    },
                    "schedule-with-exclusion-dates": {
                        "schedule": "30 * * * *",
                        "exclusionDates": ["EXDATE:20190102T150405Z", "EXDATE:20190602T160210Z"],
                    },
                }
            }
        )
    )
    entries = {name: entry for _, name, entry in es.entries()}
    catchup = entries["example-with-catchup"]
    assert isinstance(catchup, CalendarEventSource)
    assert catchup.catchup_enabled and catchup.catchup_max_duration == "5m"
    assert not entries["example-with-interval"].catchup_enabled
    assert entries["schedule-with-exclusion-dates"].to_schedule().excluded_days


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({}, "spec.calendar.c: must have either schedule or interval"),
        ({"interval": "ten"}, "spec.calendar.c.interval: invalid interval 'ten'"),
        (
            {"interval": "10s", "timezone": "Nowhere/Land"},
            "spec.calendar.c.timezone: unknown time zone Nowhere/Land",
        ),
        (
            {"interval": "10s", "exclusionDates": ["soon"]},
            "spec.calendar.c.exclusionDates: invalid exclusion date 'soon'",
        ),
        (
            {"interval": "10s", "persistence": {"catchup": {"enabled": True, "maxDuration": "5 minutes"}}},
            "spec.calendar.c.persistence.catchup.maxDuration",
        ),
        (
            {"interval": "10s", "filter": {"expression": "true"}},
            "spec.calendar.c.filter: not supported by Triggerfish yet",
        ),
    ],
)
def test_calendar_errors_name_the_field(entry: dict[str, Any], expected: str) -> None:
    assert any(issue.startswith(expected) for issue in issues(manifest({"calendar": {"c": entry}})))


# ------------------------------------------------------------------------------------- minio


def test_minio_manifest_accepts_connection_fields() -> None:
    entry = {
        "bucket": {"name": "input", "key": "unused"},
        "endpoint": "minio-service.argo-events:9000",
        "events": ["s3:ObjectCreated:Put", "s3:ObjectRemoved:*"],
        "filter": {"prefix": "in/", "suffix": ".csv"},
        "insecure": True,
        "region": "us-east-1",
        "accessKey": {"key": "accesskey", "name": "artifacts-minio"},
        "secretKey": {"key": "secretkey", "name": "artifacts-minio"},
        "caCertificate": {"key": "ca", "name": "tls"},
        "metadata": {"a": "b"},
    }
    es = load_event_source(manifest({"minio": {"example": entry}}))
    assert es.spec.minio["example"].bucket.name == "input"  # type: ignore[index]


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({}, "spec.minio.m.bucket: required field is missing"),
        ({"bucket": {}}, "spec.minio.m.bucket.name: required field is missing"),
        (
            {"bucket": {"name": "b"}, "events": ["ObjectCreated:Put"]},
            "spec.minio.m.events: unknown event 'ObjectCreated:Put'",
        ),
        ({"bucket": {"name": "b"}, "events": ["s3:Object*:Put"]}, "spec.minio.m.events: unknown event"),
        ({"bucket": {"name": "b"}, "events": ["s3:ObjectCreated:Pu*"]}, "spec.minio.m.events: unknown event"),
    ],
)
def test_minio_errors(entry: dict[str, Any], expected: str) -> None:
    assert any(issue.startswith(expected) for issue in issues(manifest({"minio": {"m": entry}})))
