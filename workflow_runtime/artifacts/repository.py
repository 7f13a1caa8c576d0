"""The contract every artifact store honours, and the errors artifact handling raises.

A repository stores objects by key, as S3 does: a file is one object; a directory (an artifact
saved with ``archive: {none: {}}``) is one object per file under ``<key>/``. Loading a key fetches
the object, or else every object under the prefix, so a directory comes back as a directory.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Protocol


class ArtifactError(Exception):
    """An artifact cannot be resolved, loaded or saved; the message is what the node shows."""


class ArtifactNotFound(ArtifactError):
    """The artifact's location holds nothing (Argo's CodeNotFound: an optional artifact is skipped)."""


class Repository(Protocol):
    """Where artifacts live: the local directory of the embedded profile, or an S3 bucket."""

    def save(self, key: str, source: Path) -> None:
        """Store a file as the object ``key``, or a directory as one object per file under ``key/``."""

    def load(self, key: str, dest: Path) -> None:
        """Fetch ``key`` to the file ``dest``, or the objects under ``key/`` into the directory ``dest``.

        Raises :class:`ArtifactNotFound` when neither exists."""

    def exists(self, key: str) -> bool:
        """Whether ``key`` is an object or a non-empty prefix."""


def check_key(key: str) -> str:
    """A relative, normalised object key (``a/b.tgz``); ``..``, absolute and empty keys are refused."""
    normal = posixpath.normpath(key.strip("/")) if key else ""
    if not normal or normal == "." or normal.startswith("../") or normal == "..":
        raise ArtifactError(f"invalid artifact key {key!r}: expected a relative path like 'wf/pod/art.tgz'")
    return normal
