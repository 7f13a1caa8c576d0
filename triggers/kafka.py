"""The ``kafka`` trigger: publish a message built from the matched events (``pkg/sensors/triggers/kafka``).

As in Argo Events: the value is built from ``payload`` parameters (a JSON object, or the raw value
of a parameter with an empty ``dest``), ``partitioningKey`` is the message key, ``headers`` and
``secureHeaders`` (values from secrets) become record headers, ``requiredAcks`` (0 none, 1 the
leader, -1 all in-sync replicas), ``compress`` (snappy) and ``tls``/``sasl`` configure the
producer. ``parameters`` may rewrite any of these fields from the events.

Differences, deliberate: Argo's producer is asynchronous (the firing succeeds once the message
is queued); here a firing succeeds when the broker acknowledged the message as ``requiredAcks``
asks (immediately for 0), so a broker that is down makes the firing fail and be retried per the
trigger's ``retryStrategy``. ``flushFrequency`` is the producer's linger time in milliseconds
(Argo's flush period; 0 sends at once). ``partition`` (deprecated in Argo) is used only when no
``partitioningKey`` is given. ``version`` is accepted and unused (the client negotiates).

Producers are kept per connection settings and reused across firings.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, ClassVar

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from sensors.parameters import ParameterError, construct_payload
from sensors.spec import KafkaTrigger, SecretKeySelector
from triggerfish.bus.kafka_client import KafkaConnection, SaslMechanism, ssl_context
from triggers.base import FireResult, Firing, TriggerError

__all__ = ["KafkaTriggerDriver"]

SecretResolver = Callable[[str, str, str], str | None]

_ACKS: dict[int, int | str] = {0: 0, 1: 1, -1: "all"}


class KafkaTriggerDriver:
    kind: ClassVar[str] = "kafka"

    def __init__(self, secrets: SecretResolver | None = None) -> None:
        self._secrets = secrets
        self._producers: dict[tuple[Any, ...], AIOKafkaProducer] = {}
        self._lock = asyncio.Lock()

    def _secret(self, namespace: str, ref: SecretKeySelector | None, what: str) -> str | None:
        if ref is None:
            return None
        value = self._secrets(namespace, ref.name, ref.key) if self._secrets is not None else None
        if value is None:
            raise TriggerError(
                f"failed to retrieve the {what} from secret {ref.name}/{ref.key}", retryable=False
            )
        return value

    def _connection(self, spec: KafkaTrigger, namespace: str) -> KafkaConnection:
        context = None
        if spec.tls is not None:
            context = ssl_context(
                ca_pem=self._secret(namespace, spec.tls.ca_cert_secret, "tls.caCertSecret"),
                cert_pem=self._secret(namespace, spec.tls.client_cert_secret, "tls.clientCertSecret"),
                key_pem=self._secret(namespace, spec.tls.client_key_secret, "tls.clientKeySecret"),
                insecure_skip_verify=spec.tls.insecure_skip_verify,
            )
        mechanism: SaslMechanism | None = None
        user = password = None
        if spec.sasl is not None:
            mechanism = (spec.sasl.mechanism or "PLAIN").upper()  # type: ignore[assignment]  # validated
            user = self._secret(namespace, spec.sasl.user_secret, "sasl.userSecret")
            password = self._secret(namespace, spec.sasl.password_secret, "sasl.passwordSecret")
        return KafkaConnection(spec.url, mechanism, user, password, context, client_id="triggerfish-trigger")

    async def _producer(self, spec: KafkaTrigger, namespace: str) -> AIOKafkaProducer:
        tls = spec.tls.model_dump_json() if spec.tls else ""
        sasl = spec.sasl.model_dump_json() if spec.sasl else ""
        key = (spec.url, namespace, tls, sasl, spec.required_acks, spec.compress, spec.flush_frequency)
        async with self._lock:
            producer = self._producers.get(key)
            if producer is None:
                producer = AIOKafkaProducer(
                    **self._connection(spec, namespace).client_kwargs(),
                    acks=_ACKS[spec.required_acks],
                    compression_type="snappy" if spec.compress else None,
                    linger_ms=max(spec.flush_frequency, 0),
                )
                try:
                    await producer.start()
                except (KafkaError, OSError) as exc:
                    await producer.stop()
                    raise TriggerError(f"failed to connect to kafka at {spec.url}: {exc}") from exc
                self._producers[key] = producer
            return producer

    async def aclose(self) -> None:
        async with self._lock:
            producers, self._producers = list(self._producers.values()), {}
        for producer in producers:
            await producer.stop()

    async def fire(self, spec: KafkaTrigger, firing: Firing) -> FireResult:
        try:
            value = construct_payload(firing.events, spec.payload or [])
        except ParameterError as exc:
            raise TriggerError(str(exc), retryable=False) from exc
        headers = [(name, str(v).encode()) for name, v in (spec.headers or {}).items()]
        for secure in spec.secure_headers or ():
            ref = secure.value_from.secret_key_ref if secure.value_from else None
            secret = self._secret(firing.namespace, ref, "value for secureHeader") or ""
            headers.append((secure.name, secret.encode()))
        key = spec.partitioning_key.encode() if spec.partitioning_key is not None else None
        partition = spec.partition if key is None else None
        producer = await self._producer(spec, firing.namespace)
        try:
            metadata = await producer.send_and_wait(
                spec.topic, value=value, key=key, headers=headers or None, partition=partition
            )
        except KafkaError as exc:
            raise TriggerError(f"failed to publish to kafka topic {spec.topic}: {exc}") from exc
        details: dict[str, Any] = {"topic": spec.topic}
        if spec.required_acks != 0:
            details |= {"partition": metadata.partition, "offset": metadata.offset}
        return FireResult(details)
