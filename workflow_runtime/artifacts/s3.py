"""S3 artifact storage through boto3: AWS, MinIO or any S3 API (path-style addressing, v4 signatures)."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from workflow_runtime.artifacts.repository import ArtifactError, ArtifactNotFound, check_key

_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


@dataclass(frozen=True, slots=True)
class S3Endpoint:
    """How to reach an S3 API; hashable so one boto3 client serves every artifact of an endpoint."""

    endpoint: str | None
    """``host:port`` as Argo writes it (``minio:9000``), or a URL; None is AWS."""
    region: str | None = None
    insecure: bool = False
    access_key: str | None = None
    secret_key: str | None = None

    def url(self) -> str | None:
        if not self.endpoint:
            return None
        if "://" in self.endpoint:
            return self.endpoint
        return f"{'http' if self.insecure else 'https'}://{self.endpoint}"


def s3_client(endpoint: S3Endpoint) -> Any:
    """A boto3 client that fails fast on an unreachable endpoint instead of retrying for minutes."""
    config = Config(
        connect_timeout=5,
        read_timeout=60,
        retries={"max_attempts": 2, "mode": "standard"},
        s3={"addressing_style": "path"},
        signature_version="s3v4",
        # Checksums only where the API requires them: other S3 servers reject the newer headers.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint.url(),
        region_name=endpoint.region or "us-east-1",
        aws_access_key_id=endpoint.access_key,
        aws_secret_access_key=endpoint.secret_key,
        verify=not endpoint.insecure,
        config=config,
    )


def _failure(action: str, bucket: str, key: str, error: Exception) -> ArtifactError:
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        text = str(error.response.get("Error", {}).get("Message", "")) or code
        if code in _MISSING:
            return ArtifactNotFound(f"key {key} does not exist in bucket {bucket}")
        return ArtifactError(f"failed to {action} s3://{bucket}/{key}: {text} ({code})")
    return ArtifactError(f"failed to {action} s3://{bucket}/{key}: {error}")


class S3Repository:
    """One bucket; a directory is stored as one object per file under ``<key>/``."""

    def __init__(self, client: Any, bucket: str, *, create_bucket: bool = False) -> None:
        self.client = client
        self.bucket = bucket
        self.create_bucket = create_bucket

    def save(self, key: str, source: Path) -> None:
        key = check_key(key)
        try:
            if self.create_bucket:
                self._ensure_bucket()
            if not source.is_dir():
                self.client.upload_file(str(source), self.bucket, key)
                return
            for folder, _, files in os.walk(source):
                for name in sorted(files):
                    path = Path(folder) / name
                    if path.is_file():  # sockets, fifos and dangling links have no content to store
                        relative = path.relative_to(source).as_posix()
                        self.client.upload_file(str(path), self.bucket, f"{key}/{relative}")
        except (BotoCoreError, ClientError) as error:
            raise _failure("save", self.bucket, key, error) from None

    def load(self, key: str, dest: Path) -> None:
        key = check_key(key)
        try:
            try:
                self.client.download_file(self.bucket, key, str(dest))
                return
            except ClientError as error:
                if not isinstance(_failure("load", self.bucket, key, error), ArtifactNotFound):
                    raise
            with contextlib.suppress(FileNotFoundError):
                dest.unlink()  # boto3 may leave an empty file behind
            objects = self._under(key)
            if not objects:
                raise ArtifactNotFound(f"key {key} does not exist in bucket {self.bucket}")
            for name in objects:
                target = dest / name[len(key) + 1 :]
                target.parent.mkdir(parents=True, exist_ok=True)
                self.client.download_file(self.bucket, name, str(target))
        except (BotoCoreError, ClientError) as error:
            raise _failure("load", self.bucket, key, error) from None

    def exists(self, key: str) -> bool:
        key = check_key(key)
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
            return True
        except ClientError as error:
            if not isinstance(_failure("stat", self.bucket, key, error), ArtifactNotFound):
                raise _failure("stat", self.bucket, key, error) from None
        except BotoCoreError as error:
            raise _failure("stat", self.bucket, key, error) from None
        try:
            return bool(self._under(key))
        except (BotoCoreError, ClientError) as error:
            raise _failure("list", self.bucket, key, error) from None

    def _under(self, key: str) -> list[str]:
        names: list[str] = []
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=key + "/")
        for page in pages:
            names += [item["Key"] for item in page.get("Contents", [])]
        return names

    def _ensure_bucket(self) -> None:
        """``createBucketIfNotPresent``: make the bucket on first save when it is missing."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)
