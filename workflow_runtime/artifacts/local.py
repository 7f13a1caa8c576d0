"""The embedded profile's artifact repository: objects are files under a directory on the hub's host."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from workflow_runtime.artifacts.repository import ArtifactNotFound, check_key


class LocalRepository:
    """Keys map to paths under ``root``; a directory saved under a key stays a directory there."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def save(self, key: str, source: Path) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Copy beside the target, then rename: a reader never sees half an artifact.
        staging = Path(tempfile.mkdtemp(prefix=".saving-", dir=target.parent))
        try:
            copy = staging / "object"
            copy_path(source, copy)
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            os.replace(copy, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def load(self, key: str, dest: Path) -> None:
        source = self.path(key)
        if not source.exists():
            raise ArtifactNotFound(f"key {key} does not exist in the local artifact repository {self.root}")
        copy_path(source, dest)

    def exists(self, key: str) -> bool:
        return self.path(key).exists()


def copy_path(source: Path, dest: Path) -> None:
    """Copy a file or a directory tree with its modes; symlinks inside a tree are kept as links."""
    if source.is_dir():
        shutil.copytree(source, dest, symlinks=True)
    else:
        shutil.copy2(source, dest)
