"""The ``github`` event source: GitHub webhook deliveries, authenticated by their HMAC signature.

Behaviour, checked against Argo Events (``pkg/eventsources/sources/github/start.go``) and
go-github's ``ValidatePayload`` (``github/messages.go``), with the differences marked:

* Route: ``webhook.endpoint`` on the hub's port and on ``webhook.port``; ``webhook.authSecret`` and
  ``webhook.maxPayloadSize`` apply as for the ``webhook`` source (401 / 413). Only
  ``webhook.method`` (default ``POST``) is accepted (405 otherwise; Argo does not check).
* Signature: with ``webhookSecret`` set, ``X-Hub-Signature-256: sha256=<hex>`` must be the
  HMAC-SHA256 of the raw body under the secret, compared in constant time. Missing or wrong →
  **401** and nothing is stored (Argo: 400). The legacy SHA-1 ``X-Hub-Signature`` alone is not
  accepted. Without ``webhookSecret`` deliveries are not authenticated (as in Argo).
* Content types, as GitHub sends them: ``application/json`` (the body is the payload) and
  ``application/x-www-form-urlencoded`` (the payload is the ``payload`` form field; the signature
  still covers the raw body). Any other type → 400. A payload that is not a JSON object → 400.
* ``ping`` (sent when a hook is created) is answered 200 and not published (Argo publishes it).
* ``events``: a delivery whose ``X-GitHub-Event`` is not listed (and the list has no ``*``) is
  answered 200 and not published. In Argo the list only configures the hook it creates; since
  Triggerfish does not create hooks, enforcing it on receipt keeps the manifest's meaning.
* Event id: ``X-GitHub-Delivery`` (GitHub keeps it on redelivery, so the bus drops the repeat);
  when absent, ``sha256:<hex>`` of the signed body.
* Event data is Argo's ``GithubEventData``: ``{"headers": {"X-Github-Event": ["push"], …},
  "body": {…payload…, "X-GitHub-Event": "push", "X-GitHub-Delivery": "<guid>"}, "metadata": {…}}``.
  Like Argo, the two headers are also copied into the body under GitHub's spelling, and
  ``Authorization`` is masked in ``headers``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Sequence
from typing import Any, ClassVar

from starlette.requests import Request
from starlette.responses import Response

from eventsources.base import HttpRoute, SourceContext
from eventsources.spec import GithubEventSource
from eventsources.webhook import (
    ALL_METHODS,
    InvalidJSON,
    PayloadTooLarge,
    check_bearer,
    check_method,
    error_response,
    go_headers,
    ignored_response,
    make_event,
    media_type,
    parse_form,
    parse_json,
    publish_and_reply,
    read_body,
    too_large,
    with_metadata,
)

log = logging.getLogger(__name__)

EVENT_HEADER = "X-GitHub-Event"
DELIVERY_HEADER = "X-GitHub-Delivery"
SIGNATURE_HEADER = "X-Hub-Signature-256"


def signature(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value GitHub sends for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    if not header:
        return False
    return hmac.compare_digest(signature(secret, body).encode(), header.strip().lower().encode())


class GithubDriver:
    """``spec.github.<name>``: one HTTP route receiving a GitHub hook's deliveries."""

    kind: ClassVar[str] = "github"

    def __init__(self, context: SourceContext, spec: GithubEventSource) -> None:
        self.context = context
        self.spec = spec
        self.http = spec.http
        self.allowed_events = set(spec.events or [])

    def routes(self) -> Sequence[HttpRoute]:
        return [HttpRoute(self.http.endpoint, ALL_METHODS, self.handle, port=self.http.port_number)]

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def wants(self, event_type: str) -> bool:
        return not self.allowed_events or "*" in self.allowed_events or event_type in self.allowed_events

    def _check_signature(self, request: Request, raw: bytes) -> Response | None:
        selector = self.spec.webhook_secret
        if selector is None:
            return None
        secret = self.context.get_secret(selector.name or "", selector.key)
        if secret is None:
            log.error(
                "webhook secret %s/%s of %s is not available", selector.name, selector.key, self.context.ref
            )
            return error_response(500, "webhook secret is not available")
        if not signature_valid(secret, raw, request.headers.get(SIGNATURE_HEADER)):
            return error_response(401, f"missing or invalid {SIGNATURE_HEADER}")
        return None

    @staticmethod
    def _payload(request: Request, raw: bytes) -> dict[str, Any] | Response:
        content_type = media_type(request)
        if content_type == "application/json":
            text = raw
        elif content_type == "application/x-www-form-urlencoded":
            values = parse_form(raw).get("payload")
            if not values:
                return error_response(400, "form delivery has no payload field")
            text = values[0].encode()
        else:
            return error_response(400, f"Webhook request has unsupported Content-Type {content_type!r}")
        try:
            payload = parse_json(text)
        except InvalidJSON as exc:
            return error_response(400, str(exc))
        if not isinstance(payload, dict):
            return error_response(400, "payload must be a JSON object")
        return payload

    async def handle(self, request: Request) -> Response:
        refused = check_bearer(self.context, self.http, request) or check_method(
            request, [self.http.method or "POST"]
        )
        if refused is not None:
            return refused
        try:
            raw = await read_body(request, self.http.payload_limit)
        except PayloadTooLarge as exc:
            return too_large(exc)
        refused = self._check_signature(request, raw)
        if refused is not None:
            return refused
        payload = self._payload(request, raw)
        if isinstance(payload, Response):
            return payload
        event_type = request.headers.get(EVENT_HEADER, "")
        delivery = request.headers.get(DELIVERY_HEADER, "")
        if event_type == "ping":
            return ignored_response("ping")
        if not self.wants(event_type):
            return ignored_response(f"event {event_type!r} is not in events")
        payload[EVENT_HEADER] = event_type
        payload[DELIVERY_HEADER] = delivery
        data = with_metadata({"headers": go_headers(request), "body": payload}, self.spec.metadata)
        event_id = delivery or "sha256:" + hashlib.sha256(raw).hexdigest()
        return await publish_and_reply(self.context, make_event(self.context.ref, event_id, data))
