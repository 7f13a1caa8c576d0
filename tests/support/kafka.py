"""A real Apache Kafka broker for tests: KRaft mode, one node, loopback only.

The jars come from Maven Central (``org.apache.kafka:kafka_2.13`` and its runtime closure), fetched
once by ``deploy/kafka-jars.sh`` into ``~/.cache/triggerfish/kafka`` (outside git), and run with
the machine's Java 17:

1. ``java -cp 'libs/*' kafka.tools.StorageTool format -t <cluster id> -c server.properties``
   (with a SCRAM credential for the SASL listener),
2. ``java -cp 'libs/*' kafka.Kafka server.properties`` on free loopback ports,
3. ready once the broker logs "Kafka Server started" and its listener accepts connections;
4. torn down with SIGTERM (SIGKILL after a grace period), its data directory removed.

Listeners: ``PLAINTEXT`` (:attr:`KafkaBroker.bootstrap`), ``SASL_PLAINTEXT`` with PLAIN and
SCRAM-SHA-256 for user :data:`SASL_USER` (:attr:`KafkaBroker.sasl_bootstrap`), and ``SSL`` with
client certificates required (:attr:`KafkaBroker.tls_bootstrap`): a throw-away CA, the broker's
and a client's certificate are made with ``openssl`` at start (:class:`Certificates`).

A broker that cannot start fails the tests that need it when ``CI=true``; on a developer machine
without Java or Maven they are skipped, with the reason.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.processes import free_port, log_tail, stop_process_group, unavailable

ROOT = Path(__file__).resolve().parents[2]
FETCH_SCRIPT = ROOT / "deploy" / "kafka-jars.sh"
SASL_USER = "alice"
SASL_PASSWORD = "alice-secret"
START_TIMEOUT = 60.0


def accepts(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


def kafka_libs() -> Path:
    """The directory of Kafka's jars, fetched with Maven on first use."""
    if shutil.which("java") is None or shutil.which("mvn") is None:
        unavailable("Kafka needs java (17+) and mvn: run deploy/system-deps.sh (or `make install`)")
    result = subprocess.run([str(FETCH_SCRIPT)], capture_output=True, text=True, timeout=600, check=False)
    if result.returncode != 0:
        unavailable(f"fetching Kafka's jars from Maven Central failed:\n{result.stderr[-3000:]}")
    return Path(result.stdout.strip().splitlines()[-1]) / "libs"


_LOG4J = """\
status = error
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
"""


@dataclass(frozen=True)
class Certificates:
    """PEM files: a CA, the broker's key and certificate (for IP 127.0.0.1), a client's."""

    ca: Path
    broker: Path
    """The broker's private key (PKCS#8) followed by its certificate: a PEM keystore for Kafka."""
    client_cert: Path
    client_key: Path

    @classmethod
    def make(cls, directory: Path) -> Certificates:
        directory.mkdir(parents=True, exist_ok=True)
        ca, ca_key = directory / "ca.pem", directory / "ca.key"
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

        def openssl(*args: str) -> None:
            done = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=30, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"openssl {args[0]} failed: {done.stderr}")

        openssl(
            "req", "-x509", *ec, "-keyout", str(ca_key), "-out", str(ca), "-days", "2", "-subj", "/CN=test-ca"
        )
        extensions = directory / "san.cnf"
        extensions.write_text("subjectAltName=IP:127.0.0.1\n")
        for name in ("broker", "client"):
            key, request, cert = (directory / f"{name}.{suffix}" for suffix in ("key", "csr", "pem"))
            openssl("req", *ec, "-keyout", str(key), "-out", str(request), "-subj", f"/CN={name}")
            openssl(
                "x509", "-req", "-in", str(request), "-CA", str(ca), "-CAkey", str(ca_key),
                "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(extensions),
            )  # fmt: skip
        keystore = directory / "broker-keystore.pem"
        keystore.write_text((directory / "broker.key").read_text() + (directory / "broker.pem").read_text())
        return cls(ca, keystore, directory / "client.pem", directory / "client.key")


@dataclass
class KafkaBroker:
    """One broker process; :meth:`start` returns once clients can use it."""

    directory: Path
    libs: Path
    port: int = 0
    controller_port: int = 0
    sasl_port: int = 0
    tls_port: int = 0
    certificates: Certificates | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def sasl_bootstrap(self) -> str:
        return f"127.0.0.1:{self.sasl_port}"

    @property
    def tls_bootstrap(self) -> str:
        return f"127.0.0.1:{self.tls_port}"

    @property
    def log_path(self) -> Path:
        return self.directory / "server.log"

    def log_tail(self, size: int = 4000) -> str:
        return log_tail(self.log_path, size)

    def _properties(self) -> str:
        certificates = self.certificates
        assert certificates is not None
        jaas_plain = (
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'user_{SASL_USER}="{SASL_PASSWORD}";'
        )
        jaas_scram = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        lines = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": (
                f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port},"
                f"SASL_PLAINTEXT://127.0.0.1:{self.sasl_port},SSL://127.0.0.1:{self.tls_port}"
            ),
            "advertised.listeners": (
                f"PLAINTEXT://127.0.0.1:{self.port},SASL_PLAINTEXT://127.0.0.1:{self.sasl_port},"
                f"SSL://127.0.0.1:{self.tls_port}"
            ),
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": (
                "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL"
            ),
            "listener.name.ssl.ssl.keystore.type": "PEM",
            "listener.name.ssl.ssl.keystore.location": str(certificates.broker),
            "listener.name.ssl.ssl.truststore.type": "PEM",
            "listener.name.ssl.ssl.truststore.location": str(certificates.ca),
            "listener.name.ssl.ssl.client.auth": "required",
            "listener.name.sasl_plaintext.sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256",
            "listener.name.sasl_plaintext.plain.sasl.jaas.config": jaas_plain,
            "listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config": jaas_scram,
            "log.dirs": str(self.directory / "data"),
            "num.partitions": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "true",
            # retention tests wait seconds, not minutes (the first check is otherwise 30 s in)
            "log.retention.check.interval.ms": "250",
            "log.initial.task.delay.ms": "0",
        }
        return "".join(f"{key}={value}\n" for key, value in lines.items())

    def start(self) -> KafkaBroker:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port, self.controller_port, self.sasl_port = free_port(), free_port(), free_port()
        self.tls_port = free_port()
        self.certificates = Certificates.make(self.directory / "tls")
        properties = self.directory / "server.properties"
        properties.write_text(self._properties())
        log4j = self.directory / "log4j2.properties"
        log4j.write_text(_LOG4J.format(log=self.log_path))
        classpath = f"{self.libs}/*"
        cluster_id = base64_uuid()
        formatted = subprocess.run(
            [
                "java",
                "-cp",
                classpath,
                "kafka.tools.StorageTool",
                "format",
                f"--cluster-id={cluster_id}",  # one argument: an id may start with "-"
                "-c",
                str(properties),
                "--add-scram",
                f"SCRAM-SHA-256=[name={SASL_USER},password={SASL_PASSWORD}]",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if formatted.returncode != 0:
            raise RuntimeError(f"kafka StorageTool format failed:\n{formatted.stdout}\n{formatted.stderr}")
        with open(self.directory / "stdout.log", "wb") as out:
            self.process = subprocess.Popen(
                [
                    "java",
                    "-Xms256m",
                    "-Xmx512m",
                    "-XX:+UseSerialGC",
                    "-XX:TieredStopAtLevel=1",
                    f"-Dlog4j2.configurationFile={log4j}",
                    "-cp",
                    classpath,
                    "kafka.Kafka",
                    str(properties),
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the Kafka broker exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            if "Kafka Server started" in self.log_tail(100_000) and accepts(self.port):
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the Kafka broker was not ready after {START_TIMEOUT:.0f}s:\n{self.log_tail()}")

    def stop(self, grace: float = 3.0) -> None:
        """SIGTERM, then SIGKILL after ``grace``: the data directory is thrown away anyway."""
        process, self.process = self.process, None
        stop_process_group(process, grace)


def base64_uuid() -> str:
    """A Kafka cluster id: a random UUID in URL-safe base64 without padding (what random-uuid prints)."""
    import base64

    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


@contextlib.contextmanager
def running_broker() -> Iterator[KafkaBroker]:
    libs = kafka_libs()
    directory = Path(tempfile.mkdtemp(prefix="triggerfish-kafka-"))
    broker = KafkaBroker(directory, libs)
    try:
        try:
            broker.start()
        except (RuntimeError, OSError) as exc:
            unavailable(f"the Kafka broker did not start: {exc}")
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(directory, ignore_errors=True)


def kafka_event_source(name: str, event: str, url: str, topic: str) -> dict[str, Any]:
    """A ``kafka`` EventSource manifest reading ``topic`` from the oldest record as its own consumer group,
    JSON bodies decoded (what the scale-out tests and benchmarks feed their hubs)."""
    consumer_group = {"groupName": f"source-{topic}", "oldest": True}
    spec = {"url": url, "topic": topic, "jsonBody": True, "consumerGroup": consumer_group}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "EventSource",
        "metadata": {"name": name},
        "spec": {"kafka": {event: spec}},
    }
