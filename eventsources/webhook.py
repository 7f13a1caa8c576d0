"""The ``webhook`` event source, and the HTTP plumbing the ``github`` and ``minio`` sources share.

Behaviour, checked against Argo Events (``pkg/eventsources/sources/webhook/start.go``,
``pkg/eventsources/common/webhook/webhook.go``) and noted where Triggerfish differs:

* The route is ``spec.webhook.<name>.endpoint``, served on the hub's port and on ``port``.
* ``authSecret``: the request must carry ``Authorization: Bearer <token>``, else **401** (as Argo;
  compared in constant time). The header is masked in the stored event, as Argo does.
* Wrong method: **405** with ``Allow`` (Argo answers 400).
* ``maxPayloadSize`` (default 1 MiB): a larger body is refused with **413** (Argo: 400 "request body
  too large"). The body is read incrementally and never buffered beyond the limit.
* Body: for ``GET`` the query string (``{"k": ["v"]}``); for ``application/x-www-form-urlencoded``
  the form fields (``{"k": ["v"]}``, as Go's ``PostForm``); anything else must be JSON, whatever the
  content type, and is stored as parsed JSON; a body that is not JSON is refused with **400**
  (Argo refuses it too, because it embeds the body as a ``json.RawMessage``: there is no
  base64/raw fallback to mirror). An empty body is stored as ``null`` (Argo answers 400).
* Event data is Argo's ``WebhookEventData``: ``{"header": {"Content-Type": ["application/json"],
  …}, "body": …, "metadata": {…}}`` with Go's canonical header names and ``metadata`` only when set.
* The event is appended to the bus **before** the reply; the reply is **200**
  ``{"id": "<event id>"}`` with header ``X-Triggerfish-Event-Id`` (Argo: 200 "success"), or **500**
  when the bus did not take it (as Argo), so the sender retries.
* Event id: the request's ``Idempotency-Key`` header, scoped to the event
  (``<namespace>/<eventsource>/<eventName>:<key>``), so a client retrying one delivery with the same
  key creates one event (the reply then says ``"duplicate": true``). Without that header every
  request is a new event with a random id, as in Argo. ``X-Request-Id`` is deliberately not used:
  proxies mint it per hop and clients rarely keep it across retries.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import parse_qs

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from eventsources.base import HttpRoute, SourceContext, SourceRef
from eventsources.spec import WebhookContext, WebhookEventSource
from triggerfish.events import Event, new_event

log = logging.getLogger(__name__)

EVENT_ID_HEADER = "X-Triggerfish-Event-Id"
IDEMPOTENCY_HEADER = "Idempotency-Key"
MASKED_AUTHORIZATION = "*** Masked Auth Secret ***"
"""What Argo Events stores in place of the ``Authorization`` header."""
ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_MAX_ID_LENGTH = 500
"""The bus keeps ids in a 512-character column; longer ids are replaced by a digest."""


# --------------------------------------------------------------------------------- ids & events


def scoped_id(ref: SourceRef, local_id: str) -> str:
    """``<namespace>/<eventsource>/<eventName>:<local_id>``: an id that cannot collide with another
    event of the same EventSource (the bus deduplicates on source name and id)."""
    full = f"{ref.namespace}/{ref.eventsource}/{ref.event_name}:{local_id}"
    if len(full) <= _MAX_ID_LENGTH:
        return full
    return "sha256:" + hashlib.sha256(full.encode()).hexdigest()


def make_event(
    ref: SourceRef, event_id: str, data: Any, time: datetime | None = None, kind: str | None = None
) -> Event:
    """A CloudEvent following the project's conventions (see :mod:`triggerfish.events`)."""
    return new_event(
        id=event_id,
        source=ref.eventsource,
        type=kind or ref.kind,
        subject=ref.event_name,
        data=data,
        namespace=ref.namespace,
        time=time or datetime.now(UTC),
    )


def with_metadata(data: dict[str, Any], metadata: Mapping[str, str] | None) -> dict[str, Any]:
    """Argo's ``metadata,omitempty``."""
    if metadata:
        data["metadata"] = dict(metadata)
    return data


# --------------------------------------------------------------------------------------- headers


@functools.lru_cache(maxsize=1024)  # senders repeat the same few names on every request
def canonical_header_key(name: str) -> str:
    """Go's ``textproto.CanonicalMIMEHeaderKey``: ``x-github-event`` → ``X-Github-Event``.

    Sensors written for Argo select headers by these names (``headers.X-Github-Event``). Names with
    characters Go considers invalid in a header token are returned unchanged, as Go does.
    """
    if not name or any(not (c.isascii() and (c.isalnum() or c in "!#$%&'*+-.^_`|~")) for c in name):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def go_headers(request: Request, *, mask_authorization: bool = True) -> dict[str, list[str]]:
    """The request headers as Go's ``http.Header`` marshals them: canonical names, lists of values."""
    headers: dict[str, list[str]] = {}
    for raw_name, raw_value in request.headers.raw:
        name = canonical_header_key(raw_name.decode("latin-1"))
        value = raw_value.decode("latin-1")
        if name == "Authorization" and mask_authorization and value:
            value = MASKED_AUTHORIZATION
        headers.setdefault(name, []).append(value)
    return headers


# -------------------------------------------------------------------------------------- replies


def error_response(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    return JSONResponse({"error": message}, status_code=status, headers=dict(headers or {}))


def accepted_response(event_id: str, duplicate: bool) -> Response:
    payload: dict[str, Any] = {"id": event_id}
    if duplicate:
        payload["duplicate"] = True
    return JSONResponse(payload, headers={EVENT_ID_HEADER: event_id})


def ignored_response(reason: str) -> Response:
    """200 for a delivery that is understood and deliberately not turned into an event."""
    return JSONResponse({"id": None, "ignored": reason})


async def publish_and_reply(context: SourceContext, event: Event, key: str | None = None) -> Response:
    """Append durably, then acknowledge: 200 with the id, or 500 so the sender retries."""
    try:
        published = await context.publish(event, key=key)
    except Exception:
        log.exception("failed to record event %s of %s", event.get_id(), context.ref)
        return error_response(500, "failed to record event")
    return accepted_response(event.get_id(), published.duplicate)


# ---------------------------------------------------------------------------------------- checks


class PayloadTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"request body larger than {limit} bytes")
        self.limit = limit


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refusing (:class:`PayloadTooLarge`) as soon as it exceeds ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def too_large(exc: PayloadTooLarge) -> Response:
    return error_response(413, str(exc))


def secret_matches(given: str, expected: str) -> bool:
    """Constant-time comparison (the time taken does not reveal how much of ``given`` was right)."""
    return hmac.compare_digest(given.encode(), expected.encode())


def check_bearer(context: SourceContext, http: WebhookContext, request: Request) -> Response | None:
    """Argo's ``authSecret`` check; ``None`` when the request may proceed."""
    if http.auth_secret is None:
        return None
    token = context.get_secret(http.auth_secret.name or "", http.auth_secret.key)
    if token is None:
        log.error(
            "auth secret %s/%s of %s is not available",
            http.auth_secret.name,
            http.auth_secret.key,
            context.ref,
        )
        return error_response(500, "Error loading auth token")
    header = request.headers.get("authorization", "")
    if not header.startswith("Bearer "):
        return error_response(401, "Invalid Authorization Header")
    if not secret_matches(header[len("Bearer ") :], token):
        return error_response(401, "Invalid Auth token")
    return None


def check_method(request: Request, allowed: Sequence[str]) -> Response | None:
    if request.method in allowed:
        return None
    return error_response(405, f"method {request.method} not allowed", {"Allow": ", ".join(allowed)})


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def parse_form(body: bytes) -> dict[str, list[str]]:
    """``a=1&a=2&b=`` → ``{"a": ["1", "2"], "b": [""]}`` (Go's ``url.Values``)."""
    return parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)


class InvalidJSON(ValueError):
    pass


def parse_json(body: bytes) -> Any:
    """Parsed JSON; an empty body is ``None``."""
    if not body.strip():
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidJSON(f"request body is not valid JSON: {exc}") from None


# --------------------------------------------------------------------------------------- driver


class WebhookDriver:
    """``spec.webhook.<name>``: one HTTP route; every accepted request becomes one event."""

    kind: ClassVar[str] = "webhook"

    def __init__(self, context: SourceContext, spec: WebhookEventSource) -> None:
        self.context = context
        self.spec = spec

    def routes(self) -> Sequence[HttpRoute]:
        # Every method reaches the handler, so a wrong one gets a deliberate 405 rather than
        # whatever the router does.
        return [HttpRoute(self.spec.endpoint, ALL_METHODS, self.handle, port=self.spec.port_number)]

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def event_id(self, request: Request) -> str:
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key:
            return scoped_id(self.context.ref, key)
        return str(uuid.uuid4())

    async def handle(self, request: Request) -> Response:
        refused = check_bearer(self.context, self.spec, request) or check_method(request, [self.spec.method])
        if refused is not None:
            return refused
        body: Any
        if request.method == "GET":
            body = {key: request.query_params.getlist(key) for key in request.query_params}
        else:
            try:
                raw = await read_body(request, self.spec.payload_limit)
            except PayloadTooLarge as exc:
                return too_large(exc)
            if media_type(request) == "application/x-www-form-urlencoded":
                body = parse_form(raw)
            else:
                try:
                    body = parse_json(raw)
                except InvalidJSON as exc:
                    return error_response(400, str(exc))
        data = with_metadata({"header": go_headers(request), "body": body}, self.spec.metadata)
        event = make_event(self.context.ref, self.event_id(request), data)
        return await publish_and_reply(self.context, event)
