"""The ``minio`` event source, fed by S3 bucket notifications delivered over HTTP.

Argo Events' ``minio`` source (``pkg/eventsources/sources/minio/start.go``) pulls notifications
with MinIO's ``ListenBucketNotification`` API. Triggerfish receives them pushed instead: point the
S3 server's webhook notification target at

    POST http://<hub>/s3/<namespace>/<eventsource>/<eventName>

for instance with MinIO::

    mc admin config set local notify_webhook:triggerfish \\
        endpoint=http://hub:8080/s3/default/minio/example [auth_token=<token>]
    mc admin service restart local
    mc event add local/input arn:minio:sqs::triggerfish:webhook --event put,delete

so ``accessKey``/``secretKey``/``endpoint``/``caCertificate`` of the manifest are not used (they
are for the listen API). The route is on the hub's port only (the manifest names no port).

* Body: MinIO's webhook format ``{"EventName": …, "Key": "bucket/object", "Records": [ … ]}`` or any
  ``{"Records": [ … ]}`` of AWS S3 event records. Records may come with or without the ``s3:``
  prefix on ``eventName`` (MinIO sends ``s3:ObjectCreated:Put``, AWS ``ObjectCreated:Put``).
* Validation requests: MinIO checks a webhook target with a ``HEAD`` request before using it, and
  AWS sends ``{"Event": "s3:TestEvent", …}`` when a notification is configured; both get 200 and
  produce no event.
* One CloudEvent per record that passes the filters: the record's bucket must be ``bucket.name``;
  its event name must match ``events`` (exact, or ``s3:ObjectCreated:*`` style wildcards; an
  empty list matches all); its key must start with ``filter.prefix`` and end with
  ``filter.suffix``.
* Keys are URL-decoded (S3 and MinIO encode them in notifications: ``+`` for a space, ``%XX``)
  before filtering and in the stored record. This differs from Argo, which passes MinIO's encoded
  key through; the decoded key is the object's real name.
* Event data is Argo's ``MinioEventData``: ``{"notification": [<record>], "metadata": {…}}``, one
  record per event, so sensors written for Argo (``notification.0.s3.object.key``) work unchanged.
* Event id: ``<namespace>/<eventsource>/<eventName>:<bucket>/<key>@<s3.object.sequencer>``, the same
  for every redelivery of a notification, so the bus drops repeats; without a sequencer the event
  name, time and ETag stand in for it. The bus key is ``<bucket>/<key>`` (per-object order).
* The reply is 200 ``{"ids": [...]}`` (and ``X-Triggerfish-Event-Id``: the ids URL-encoded and
  comma-separated) only after every event is durable; the whole request is
  checked before anything is published, so a malformed record (400) publishes nothing. If the bus
  fails midway the reply is 500 and the server's retry re-sends everything; the records already
  stored are dropped as duplicates.
* ``S3Settings.auth_token`` (hub configuration, not the manifest: Argo's schema has no field for
  it) makes the route require ``Authorization: Bearer <token>``, which MinIO sends when its target
  has ``auth_token`` set. Without it the route is open: expose it only to the S3 server.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote, unquote_plus

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from eventsources.base import HttpRoute, SourceContext, SourceRef
from eventsources.spec import DEFAULT_MAX_PAYLOAD_SIZE, MinioEventSource
from eventsources.webhook import (
    EVENT_ID_HEADER,
    InvalidJSON,
    PayloadTooLarge,
    check_method,
    error_response,
    make_event,
    parse_json,
    read_body,
    scoped_id,
    secret_matches,
    too_large,
    with_metadata,
)
from triggerfish.events import Event

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class S3Settings:
    auth_token: str | None = None
    """When set, notifications must carry ``Authorization: Bearer <auth_token>``."""
    max_payload_size: int = DEFAULT_MAX_PAYLOAD_SIZE


def route_path(ref: SourceRef) -> str:
    return f"/s3/{ref.namespace}/{ref.eventsource}/{ref.event_name}"


def normalize_event_name(name: str) -> str:
    return name if name.startswith("s3:") else f"s3:{name}"


def event_name_matches(patterns: Sequence[str], name: str) -> bool:
    """S3's rule: ``s3:ObjectCreated:*`` matches every ``s3:ObjectCreated:…`` name."""
    if not patterns:
        return True
    name = normalize_event_name(name)
    return any(name == p or (p.endswith(":*") and name.startswith(p[:-1])) for p in patterns)


class BadNotification(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class S3Record:
    bucket: str
    key: str
    """URL-decoded."""
    event_name: str
    record: dict[str, Any]
    """The record as delivered, with ``s3.object.key`` decoded."""

    @classmethod
    def parse(cls, index: int, raw: Any) -> S3Record:
        where = f"Records[{index}]"
        if not isinstance(raw, dict):
            raise BadNotification(f"{where} is not an object")
        s3 = raw.get("s3")
        bucket = s3.get("bucket") if isinstance(s3, dict) else None
        obj = s3.get("object") if isinstance(s3, dict) else None
        name = bucket.get("name") if isinstance(bucket, dict) else None
        key = obj.get("key") if isinstance(obj, dict) else None
        if not isinstance(name, str) or not name:
            raise BadNotification(f"{where}.s3.bucket.name is missing")
        if not isinstance(key, str) or not key:
            raise BadNotification(f"{where}.s3.object.key is missing")
        event_name = raw.get("eventName")
        if not isinstance(event_name, str) or not event_name:
            raise BadNotification(f"{where}.eventName is missing")
        decoded = unquote_plus(key)
        record = copy.deepcopy(raw)
        record["s3"]["object"]["key"] = decoded
        return cls(name, decoded, event_name, record)

    @property
    def sequencer(self) -> str | None:
        value = self.record["s3"]["object"].get("sequencer")
        return str(value) if value else None

    def local_id(self) -> str:
        if self.sequencer:
            return f"{self.bucket}/{self.key}@{self.sequencer}"
        time, etag = self.record.get("eventTime", ""), self.record["s3"]["object"].get("eTag", "")
        return f"{self.bucket}/{self.key}@{self.event_name}@{time}@{etag}"

    @property
    def time(self) -> datetime | None:
        value = self.record.get("eventTime")
        if not isinstance(value, str):
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_notification(body: Any) -> list[S3Record] | None:
    """The records of a notification; ``None`` for a test event (nothing to publish)."""
    if not isinstance(body, dict):
        raise BadNotification("notification must be a JSON object")
    if body.get("Event") == "s3:TestEvent":
        return None
    records = body.get("Records")
    if records is None:
        raise BadNotification("notification has no Records")
    if not isinstance(records, list):
        raise BadNotification("Records must be a list")
    return [S3Record.parse(index, raw) for index, raw in enumerate(records)]


class S3Driver:
    """``spec.minio.<name>``: a route receiving one bucket's notifications."""

    kind: ClassVar[str] = "minio"

    def __init__(
        self, context: SourceContext, spec: MinioEventSource, settings: S3Settings | None = None
    ) -> None:
        self.context = context
        self.spec = spec
        self.settings = settings or S3Settings()
        self.prefix = (spec.filter.prefix if spec.filter else None) or ""
        self.suffix = (spec.filter.suffix if spec.filter else None) or ""

    @property
    def path(self) -> str:
        return route_path(self.context.ref)

    def routes(self) -> Sequence[HttpRoute]:
        return [HttpRoute(self.path, ("POST", "HEAD", "GET", "PUT", "DELETE", "PATCH"), self.handle)]

    async def start(self) -> None:
        log.info(
            "S3 notifications for bucket %s of %s are received at %s (configure the server's webhook target)",
            self.spec.bucket.name,
            self.context.ref,
            self.path,
        )

    async def stop(self) -> None:
        return None

    def wants(self, record: S3Record) -> bool:
        return (
            record.bucket == self.spec.bucket.name
            and event_name_matches(self.spec.events or [], record.event_name)
            and record.key.startswith(self.prefix)
            and record.key.endswith(self.suffix)
        )

    def event(self, record: S3Record) -> Event:
        data = with_metadata({"notification": [record.record]}, self.spec.metadata)
        return make_event(
            self.context.ref, scoped_id(self.context.ref, record.local_id()), data, time=record.time
        )

    def _check_token(self, request: Request) -> Response | None:
        token = self.settings.auth_token
        if token is None:
            return None
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer ") or not secret_matches(header[len("Bearer ") :], token):
            return error_response(401, "invalid or missing bearer token")
        return None

    async def handle(self, request: Request) -> Response:
        refused = self._check_token(request) or check_method(request, ["POST", "HEAD"])
        if refused is not None:
            return refused
        if request.method == "HEAD":
            return Response(status_code=200)
        try:
            body = parse_json(await read_body(request, self.settings.max_payload_size))
            records = parse_notification(body)
        except PayloadTooLarge as exc:
            return too_large(exc)
        except (InvalidJSON, BadNotification) as exc:
            return error_response(400, str(exc))
        if records is None:
            return JSONResponse({"ids": [], "test": True})
        ids: list[str] = []
        duplicates = 0
        for record in records:
            if not self.wants(record):
                continue
            event = self.event(record)
            try:
                published = await self.context.publish(event, key=f"{record.bucket}/{record.key}")
            except Exception:
                log.exception("failed to record S3 event %s of %s", event.get_id(), self.context.ref)
                return error_response(500, "failed to record event")
            ids.append(event.get_id())
            duplicates += published.duplicate
        payload: dict[str, Any] = {"ids": ids}
        if duplicates:
            payload["duplicates"] = duplicates
        # Keys may hold commas and any Unicode: the header lists the ids URL-encoded.
        headers = {EVENT_ID_HEADER: ",".join(quote(i, safe="/:@") for i in ids)} if ids else {}
        return JSONResponse(payload, headers=headers)
