"""Where artifacts live: the hub's repositories and secrets, and what one step needs of them.

The hub configures an artifact repository once (Argo's ``artifactRepository``): a local directory
in the embedded profile, or an S3 bucket. Key-only artifacts (``s3: {key: ...}``) and outputs with
only a ``path`` go there, under the key format (default ``{{workflow.name}}/{{pod.name}}``). An
artifact naming its own bucket goes to that bucket, with credentials from the hub's ``secrets``.

Secrets: there is no Kubernetes API to read a Secret from, so a ``secretKeySelector``
(``accessKeySecret: {name, key}``) is looked up in the hub's ``secrets`` setting,
``{name: {key: value}}`` (the settings file, or ``TRIGGERFISH_SECRETS`` as JSON), the same table
event sources and triggers read. A missing secret or key fails the step with Kubernetes' message.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from triggerfish.config import ArtifactRepositorySettings, SecretRef, Settings
from workflow_runtime.artifacts.local import LocalRepository
from workflow_runtime.artifacts.repository import ArtifactError, Repository
from workflow_runtime.artifacts.s3 import S3Endpoint, S3Repository, s3_client
from workflow_runtime.spec.common import ArtifactRepositoryRef, S3Artifact, SecretKeySelector
from workflow_runtime.templating import Scope, TemplateError, render

DEFAULT_KEY_FORMAT = "{{workflow.name}}/{{pod.name}}"
DEFAULT_CONFIG_MAP = "artifact-repositories"
NOT_CONFIGURED = "controller is not configured with a default archive location"


@dataclass(frozen=True, slots=True)
class RepositoryConfig:
    """One configured repository: exactly one of ``local`` (a directory) and ``s3`` (a bucket)."""

    local: Path | None = None
    s3: S3Artifact | None = None
    key_format: str = DEFAULT_KEY_FORMAT
    archive_logs: bool = False


def repository_config(setting: ArtifactRepositorySettings, default_dir: Path) -> RepositoryConfig:
    """A repository as the hub's settings describe it (a directory unless ``s3`` is set)."""
    if setting.s3 is None:
        local = setting.local_dir or default_dir
        return RepositoryConfig(local=local, key_format=setting.key_format, archive_logs=setting.archive_logs)

    def selector(ref: SecretRef | None) -> SecretKeySelector | None:
        return None if ref is None else SecretKeySelector(name=ref.name, key=ref.key)

    s3 = setting.s3
    location = S3Artifact(
        endpoint=s3.endpoint,
        bucket=s3.bucket,
        region=s3.region,
        insecure=s3.insecure,
        access_key_secret=selector(s3.access_key_secret),
        secret_key_secret=selector(s3.secret_key_secret),
        create_bucket_if_not_present={} if s3.create_bucket_if_not_present else None,
    )
    return RepositoryConfig(s3=location, key_format=setting.key_format, archive_logs=setting.archive_logs)


def context_from_settings(settings: Settings) -> ArtifactContext:
    """The hub's artifact context: the default and named repositories, and the hub's ``secrets``."""
    default_dir = settings.data_dir / "artifacts"
    return ArtifactContext(
        repository=repository_config(settings.artifact_repository, default_dir),
        repositories={
            name: repository_config(setting, default_dir)
            for name, setting in settings.artifact_repositories.items()
        },
        secrets=settings.secrets,
        staging=settings.data_dir / "artifact-staging",
    )


class ArtifactContext:
    """The hub-wide part: repositories, secrets, a staging area on the host, cached S3 clients.

    ``repositories`` holds the repositories ``spec.artifactRepositoryRef`` can name, keyed
    ``<configMap>/<key>``; ``secrets`` is ``{name: {key: value}}``.
    """

    def __init__(
        self,
        repository: RepositoryConfig | None = None,
        repositories: Mapping[str, RepositoryConfig] | None = None,
        secrets: Mapping[str, Mapping[str, str]] | None = None,
        staging: Path | None = None,
    ) -> None:
        self.repository = repository
        self.repositories = dict(repositories or {})
        self.secrets = secrets or {}
        self.staging = staging or Path(tempfile.gettempdir()) / "triggerfish-artifacts"
        self._clients: dict[S3Endpoint, Any] = {}
        self._lock = threading.Lock()

    def repository_for(self, ref: ArtifactRepositoryRef | None) -> RepositoryConfig:
        """The workflow's repository: the one ``artifactRepositoryRef`` names, else the default."""
        if ref is None:
            if self.repository is None:
                raise ArtifactError(NOT_CONFIGURED)
            return self.repository
        config_map = ref.config_map or DEFAULT_CONFIG_MAP
        if ref.key:
            found = self.repositories.get(f"{config_map}/{ref.key}")
        else:  # no key: the ConfigMap's only repository (Argo reads its default-key annotation)
            matches = [repo for name, repo in self.repositories.items() if name.split("/")[0] == config_map]
            found = matches[0] if len(matches) == 1 else None
        if found is None:
            known = ", ".join(sorted(self.repositories)) or "none"
            name = f"{config_map}/{ref.key}" if ref.key else config_map
            raise ArtifactError(
                f"spec.artifactRepositoryRef: no artifact repository {name!r} in the hub's "
                f"artifact_repositories setting (configured: {known})"
            )
        return found

    def open(self, config: RepositoryConfig) -> Repository:
        if config.s3 is not None:
            return self.bucket(config.s3)
        assert config.local is not None
        return LocalRepository(config.local)

    def bucket(self, location: S3Artifact) -> S3Repository:
        """The bucket an S3 location names, reached with its endpoint and secret references."""
        if not location.bucket:
            raise ArtifactError("s3.bucket is required for an artifact outside the default repository")
        endpoint = S3Endpoint(
            endpoint=location.endpoint,
            region=location.region,
            insecure=bool(location.insecure),
            access_key=self.secret(location.access_key_secret),
            secret_key=self.secret(location.secret_key_secret),
        )
        with self._lock:  # building a boto3 client is not thread-safe, and slow: one per endpoint
            client = self._clients.get(endpoint)
            if client is None:
                client = self._clients[endpoint] = s3_client(endpoint)
        create = location.create_bucket_if_not_present is not None
        return S3Repository(client, location.bucket, create_bucket=create)

    def secret(self, selector: SecretKeySelector | None) -> str | None:
        """A secret reference's value, with Kubernetes' messages when it is missing."""
        if selector is None:
            return None
        data = self.secrets.get(selector.name or "")
        if data is None:
            if selector.optional:
                return None
            raise ArtifactError(f'secrets "{selector.name}" not found')
        value = data.get(selector.key)
        if value is None and not selector.optional:
            raise ArtifactError(f"secret '{selector.name}' does not have the key '{selector.key}'")
        return value

    def for_step(
        self,
        ref: ArtifactRepositoryRef | None,
        variables: Mapping[str, Any],
        step_key: str,
        archive_logs: tuple[bool | None, bool | None] = (None, None),
    ) -> StepArtifacts:
        """What one step's artifacts need: its repository, key prefix and staging directory.

        ``archive_logs`` is (``spec.archiveLogs``, the template's ``archiveLocation.archiveLogs``);
        as in Argo, a repository configured to archive logs archives them whatever these say, else
        the template's flag wins over the workflow's. A repository that cannot be found only
        fails the step when an artifact needs it."""
        step = StepArtifacts(self, self.staging / step_key)
        config: RepositoryConfig | None = None
        try:
            config = self.repository_for(ref)
            step.prefix = render(config.key_format, Scope(variables), allow_unresolved=False)
            step.config = config  # only with its prefix: never store outputs at the repository's root
        except ArtifactError as error:
            step.problem = str(error)
        except TemplateError as error:
            step.problem = f"artifact repository keyFormat: {error}"
        workflow_flag, template_flag = archive_logs
        flag = template_flag if template_flag is not None else workflow_flag
        step.archive_logs = bool((config and config.archive_logs) or flag)
        return step


@dataclass(slots=True)
class StepArtifacts:
    """One step's view of the artifact machinery (used from a worker thread: all blocking I/O)."""

    context: ArtifactContext
    staging: Path
    """A host directory for this step's downloads and archives; removed by :meth:`cleanup`."""
    config: RepositoryConfig | None = None
    prefix: str = ""
    """The rendered key format: where outputs without a key of their own go."""
    problem: str | None = None
    archive_logs: bool = False
    _repository: Repository | None = field(default=None, repr=False)

    def repository(self) -> Repository:
        """The workflow's repository (raises the reason when there is none)."""
        if self.config is None:
            raise ArtifactError(self.problem or NOT_CONFIGURED)
        if self._repository is None:
            self._repository = self.context.open(self.config)
        return self._repository

    def locate(self, location: S3Artifact, default_key: str | None = None) -> tuple[Repository, str]:
        """The store and key of an S3-style location: its own bucket, else the workflow's repository."""
        key = location.key or default_key
        if not key:
            raise ArtifactError("s3.key is required")
        if location.bucket:
            return self.context.bucket(location), key
        return self.repository(), key

    def cleanup(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)
