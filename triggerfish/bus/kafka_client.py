"""Connection settings for Kafka clients (the bus, the ``kafka`` event source and trigger).

One place turns Argo Events' ``tls``/``sasl`` settings and the hub's bus settings into aiokafka
keyword arguments: ``security_protocol`` (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL), an
``ssl.SSLContext`` built from PEM text, and SASL ``PLAIN``, ``SCRAM-SHA-256`` or ``SCRAM-SHA-512``
(what aiokafka implements without extra packages; ``GSSAPI`` and ``OAUTHBEARER`` are refused).
"""

from __future__ import annotations

import os
import ssl
import tempfile
from dataclasses import dataclass
from typing import Any, Literal

SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
SASL_MECHANISMS: tuple[str, ...] = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


@dataclass(frozen=True, slots=True)
class KafkaConnection:
    """Where a Kafka client connects and how it authenticates."""

    bootstrap: str
    """Comma-separated ``host:port`` list."""
    sasl_mechanism: SaslMechanism | None = None
    username: str | None = None
    password: str | None = None
    ssl_context: ssl.SSLContext | None = None
    client_id: str = "triggerfish"

    @property
    def security_protocol(self) -> str:
        if self.sasl_mechanism is not None:
            return "SASL_SSL" if self.ssl_context is not None else "SASL_PLAINTEXT"
        return "SSL" if self.ssl_context is not None else "PLAINTEXT"

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments shared by aiokafka's producer, consumer and admin client."""
        kwargs: dict[str, Any] = {
            "bootstrap_servers": [part.strip() for part in self.bootstrap.split(",") if part.strip()],
            "client_id": self.client_id,
            "security_protocol": self.security_protocol,
        }
        if self.ssl_context is not None:
            kwargs["ssl_context"] = self.ssl_context
        if self.sasl_mechanism is not None:
            kwargs["sasl_mechanism"] = self.sasl_mechanism
            kwargs["sasl_plain_username"] = self.username or ""
            kwargs["sasl_plain_password"] = self.password or ""
        return kwargs


def ssl_context(
    *,
    ca_pem: str | None = None,
    cert_pem: str | None = None,
    key_pem: str | None = None,
    insecure_skip_verify: bool = False,
) -> ssl.SSLContext:
    """A client TLS context from PEM text (a CA bundle, and a client certificate with its key)."""
    context = ssl.create_default_context(cadata=ca_pem) if ca_pem else ssl.create_default_context()
    if insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if cert_pem or key_pem:
        if not (cert_pem and key_pem):
            raise ValueError("a client certificate needs both the certificate and its key")
        # load_cert_chain reads files only: write them where only this user can read, then remove.
        with tempfile.TemporaryDirectory(prefix="triggerfish-tls-") as directory:
            cert_path = os.path.join(directory, "cert.pem")
            key_path = os.path.join(directory, "key.pem")
            for path, text in ((cert_path, cert_pem), (key_path, key_pem)):
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(descriptor, "w") as handle:
                    handle.write(text)
            context.load_cert_chain(cert_path, key_path)
    return context
