"""The ``http`` trigger: send a request built from the matched events (``pkg/sensors/triggers/http``).

As in Argo Events: the method defaults to POST, the body is built from ``payload`` parameters
(no body without them, and no Content-Type unless ``headers`` set one), ``dynamicHeaders`` take
their values from the events, ``timeout`` is in seconds (60 by default). Any response is a
success unless the trigger's ``policy.status.allow`` lists the accepted status codes; the runner
applies that policy to the ``status`` this driver reports. Connection errors and timeouts are
retryable failures.

``secureHeaders`` and ``basicAuth`` read ``secretKeyRef``s through the hub's secret resolver.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import httpx

from sensors.parameters import ParameterError, construct_payload, resolve_param_value
from sensors.spec import HttpTrigger, SecretKeySelector
from triggers.base import FireResult, Firing, TriggerError

__all__ = ["HttpTriggerDriver", "SecretResolver"]

SecretResolver = Callable[[str, str, str], str | None]
"""(namespace, secret name, key) → value, or ``None`` when there is no such secret."""

DEFAULT_TIMEOUT = 60.0


class HttpTriggerDriver:
    kind: ClassVar[str] = "http"

    def __init__(
        self, client: httpx.AsyncClient | None = None, secrets: SecretResolver | None = None
    ) -> None:
        self._client = client
        self._owned = client is None
        self._secrets = secrets

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(follow_redirects=True)
        return self._client

    async def aclose(self) -> None:
        if self._owned and self._client is not None:
            await self._client.aclose()
            self._client = None

    def _secret(self, namespace: str, ref: SecretKeySelector | None, what: str) -> str:
        if ref is None:
            return ""
        value = self._secrets(namespace, ref.name, ref.key) if self._secrets is not None else None
        if value is None:
            raise TriggerError(
                f"failed to retrieve the {what} from secret {ref.name}/{ref.key}", retryable=False
            )
        return value

    async def fire(self, spec: HttpTrigger, firing: Firing) -> FireResult:
        method = spec.method or "POST"
        try:
            body = construct_payload(firing.events, spec.payload) if spec.payload is not None else b""
            headers = {name: value for name, value in (spec.headers or {}).items()}
            for dynamic in spec.dynamic_headers or ():
                if dynamic.src is None:
                    continue
                resolved = resolve_param_value(dynamic.src, firing.events)
                if resolved is not None:
                    headers[dynamic.dest] = resolved.text
        except ParameterError as exc:
            raise TriggerError(str(exc), retryable=False) from exc
        for secure in spec.secure_headers or ():
            ref = secure.value_from.secret_key_ref if secure.value_from else None
            headers[secure.name] = self._secret(firing.namespace, ref, "value for secureHeader")
        auth: httpx.BasicAuth | None = None
        if spec.basic_auth is not None:
            auth = httpx.BasicAuth(
                self._secret(firing.namespace, spec.basic_auth.username, "username"),
                self._secret(firing.namespace, spec.basic_auth.password, "password"),
            )
        if spec.host:
            headers["Host"] = spec.host
        timeout = float(spec.timeout) if spec.timeout > 0 else DEFAULT_TIMEOUT
        try:
            response = await self._http().request(
                method,
                spec.url,
                content=body,
                headers=headers,
                auth=auth or httpx.USE_CLIENT_DEFAULT,
                timeout=timeout,
            )
        except httpx.InvalidURL as exc:
            raise TriggerError(f"failed to construct request for {spec.url}, {exc}", retryable=False) from exc
        except httpx.HTTPError as exc:
            raise TriggerError(f"failed to execute trigger, {type(exc).__name__}: {exc}") from exc
        return FireResult({"status": response.status_code, "method": method, "url": spec.url})
