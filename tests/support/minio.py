"""A real MinIO server for tests: the S3 API with bucket notifications, on loopback.

The binary is built once by ``deploy/minio.sh`` (``go install github.com/minio/minio@<pinned>``, into
``~/.cache/triggerfish/minio``); ``make test`` starts that build in the background before the linters,
so by the time a test needs MinIO the build has usually finished, and the fixture waits for it
otherwise (the script's lock). Then:

1. ``minio server DIR --address 127.0.0.1:<free port>`` with root credentials :data:`ACCESS_KEY` /
   :data:`SECRET_KEY`, and for each webhook target ``MINIO_NOTIFY_WEBHOOK_ENABLE_<ID>=on`` and
   ``MINIO_NOTIFY_WEBHOOK_ENDPOINT_<ID>=<url>`` (MinIO probes the endpoint at startup, so the
   receiver must be up first), and for each Kafka target ``MINIO_NOTIFY_KAFKA_ENABLE_<ID>=on``,
   ``MINIO_NOTIFY_KAFKA_BROKERS_<ID>`` and ``MINIO_NOTIFY_KAFKA_TOPIC_<ID>``;
2. ready once ``/minio/health/ready`` answers 200;
3. buckets and notifications through boto3 (``PutBucketNotificationConfiguration`` with the queue
   ARN ``arn:minio:sqs::<ID>:webhook`` or ``arn:minio:sqs::<ID>:kafka``);
4. torn down with SIGTERM (SIGKILL after a grace period), its directory removed.

A MinIO that cannot be built or started fails the tests that need it when ``CI=true``; elsewhere they
are skipped with the reason.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.processes import free_port, log_tail, stop_process_group, unavailable
from workflow_runtime.artifacts.s3 import S3Endpoint, s3_client

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / "deploy" / "minio.sh"
BUILD_TIMEOUT = 1800.0
"""A cold build takes about 6 minutes on 2 cores; a slower machine gets room, a hang does not."""
ACCESS_KEY = "triggerfish"
SECRET_KEY = "triggerfish-secret"
START_TIMEOUT = 60.0
KafkaTarget = tuple[str, str]
"""A Kafka notification target: the brokers (``host:port,…``) and the topic."""


def minio_binary() -> Path:
    """The MinIO binary, built on first use (or waited for, when ``make test`` is building it)."""
    try:
        result = subprocess.run(
            [str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        unavailable(f"building MinIO ({BUILD_SCRIPT}) took more than {BUILD_TIMEOUT:.0f}s")
        raise
    if result.returncode != 0:
        unavailable(f"building MinIO with {BUILD_SCRIPT} failed:\n{result.stderr[-3000:]}")
    return Path(result.stdout.strip().splitlines()[-1])


@dataclass
class MinioServer:
    """One MinIO process; :meth:`start` returns once the S3 API answers."""

    binary: Path
    directory: Path
    webhooks: Mapping[str, str] = field(default_factory=dict)
    """Webhook notification targets: ``{target id: endpoint URL}``."""
    kafka_targets: Mapping[str, KafkaTarget] = field(default_factory=dict)
    """Kafka notification targets: ``{target id: (brokers, topic)}``."""
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        """``host:port``, as an artifact's ``s3.endpoint`` (with ``insecure: true``) names it."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    @property
    def log_path(self) -> Path:
        return self.directory / "minio.log"

    def log_tail(self, size: int = 4000) -> str:
        return log_tail(self.log_path, size)

    def client(self) -> Any:
        """A boto3 S3 client with the root credentials."""
        return s3_client(
            S3Endpoint(self.endpoint, insecure=True, access_key=ACCESS_KEY, secret_key=SECRET_KEY)
        )

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MINIO_")}
        env.update(
            {
                "MINIO_ROOT_USER": ACCESS_KEY,
                "MINIO_ROOT_PASSWORD": SECRET_KEY,
                "MINIO_BROWSER": "off",
                "MINIO_UPDATE": "off",
            }
        )
        for target, url in self.webhooks.items():
            env[f"MINIO_NOTIFY_WEBHOOK_ENABLE_{target}"] = "on"
            env[f"MINIO_NOTIFY_WEBHOOK_ENDPOINT_{target}"] = url
        for target, (brokers, topic) in self.kafka_targets.items():
            env[f"MINIO_NOTIFY_KAFKA_ENABLE_{target}"] = "on"
            env[f"MINIO_NOTIFY_KAFKA_BROKERS_{target}"] = brokers
            env[f"MINIO_NOTIFY_KAFKA_TOPIC_{target}"] = topic
        return env

    def start(self) -> MinioServer:
        data = self.directory / "data"
        data.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [str(self.binary), "server", str(data), "--address", self.endpoint, "--quiet"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.environment(),
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"MinIO exited with {self.process.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/minio/health/ready", timeout=1.0).status_code == 200:
                    return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"MinIO was not ready after {START_TIMEOUT:.0f}s:\n{self.log_tail()}")

    def stop(self, grace: float = 10.0) -> None:
        process, self.process = self.process, None
        stop_process_group(process, grace)

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)

    def notify(
        self, bucket: str, target: str, events: Sequence[str] = ("s3:ObjectCreated:*",), prefix: str = ""
    ) -> None:
        """Send the bucket's events to ``target`` (one of :attr:`webhooks` or :attr:`kafka_targets`)."""
        kind = "kafka" if target in self.kafka_targets else "webhook"
        queue: dict[str, Any] = {"QueueArn": f"arn:minio:sqs::{target}:{kind}", "Events": list(events)}
        if prefix:
            queue["Filter"] = {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}}
        self.client().put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [queue]}
        )


@contextlib.contextmanager
def running_minio(
    buckets: Sequence[str] = (),
    webhooks: Mapping[str, str] | None = None,
    kafka_targets: Mapping[str, KafkaTarget] | None = None,
) -> Iterator[MinioServer]:
    """A started MinIO holding ``buckets`` (skipped, or failed under CI, when it cannot run)."""
    binary = minio_binary()
    directory = Path(tempfile.mkdtemp(prefix="triggerfish-minio-"))
    server = MinioServer(binary, directory, dict(webhooks or {}), dict(kafka_targets or {}))
    try:
        try:
            server.start()
        except (RuntimeError, OSError) as exc:
            unavailable(f"MinIO did not start: {exc}")
        for bucket in buckets:
            server.create_bucket(bucket)
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def minio() -> Iterator[MinioServer]:
    """One MinIO for the whole session, with the buckets ``artifacts`` and ``data``."""
    with running_minio(buckets=("artifacts", "data")) as server:
        yield server
