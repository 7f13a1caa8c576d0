"""Argo's artifact archives: a gzip'd tar (``<name>.tgz``) whose single top entry is the artifact.

An output at ``/tmp/out`` is stored as a tarball holding ``out`` (a file, or a directory with its
tree), as ``docker cp`` and Argo's executor write it; unpacking renames that one entry to the
input's path, or the whole extraction directory when the tarball holds several entries.
"""

from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path

from workflow_runtime.artifacts.repository import ArtifactError

DEFAULT_COMPRESSION = 6
"""gzip's default level (Go's ``gzip.DefaultCompression`` is the same as zlib's -1)."""


def compression_level(level: int | None) -> int:
    """``archive.tar.compressionLevel``: 0 (none) to 9 (best), -1 or unset for the default."""
    if level is None or level == -1:
        return DEFAULT_COMPRESSION
    if not 0 <= level <= 9:
        raise ArtifactError(f"archive.tar.compressionLevel must be -1 or between 0 and 9, got {level}")
    return level


def pack(source: Path, name: str, dest: Path, level: int = DEFAULT_COMPRESSION) -> None:
    """Write ``source`` (file or directory) into the tarball ``dest`` as the entry ``name``.

    Symlinks are stored as links, like the step saw them; sockets and fifos are left out."""
    with tarfile.open(dest, "w:gz", compresslevel=level) as tar:
        tar.add(source, arcname=name)


def is_tarball(path: Path) -> bool:
    """Whether ``path`` is a gzip'd tarball with at least one entry (Argo's ``isTarball``)."""
    if not path.is_file():
        return False
    try:
        with tarfile.open(path, "r:gz") as tar:
            return tar.next() is not None
    except (tarfile.TarError, OSError, EOFError):
        return False


def unpack(archive: Path, dest: Path) -> None:
    """Extract ``archive`` so that ``dest`` becomes its single entry (or holds all of them).

    Entries that would land outside ``dest`` (``..``, absolute paths, links pointing out) are
    refused with :class:`ArtifactError`, as Argo refuses "illegal file path"."""
    staging = dest.with_name(dest.name + ".tmpdir")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            _extract(tar, staging)
        entries = list(staging.iterdir())
        if len(entries) == 1:
            os.replace(entries[0], dest)
            staging.rmdir()
        else:
            os.replace(staging, dest)
    except (tarfile.TarError, OSError, EOFError) as error:
        raise ArtifactError(f"failed to unpack the artifact archive: {error}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _extract(tar: tarfile.TarFile, dest: Path) -> None:
    if hasattr(tarfile, "data_filter"):  # Python 3.11.4+: the standard library's own safe filter
        tar.extractall(dest, filter="data")
        return
    root = os.path.realpath(dest)
    for member in tar.getmembers():
        target = os.path.realpath(os.path.join(root, member.name))
        linked = os.path.join(os.path.dirname(target), member.linkname) if member.issym() else target
        for path in (target, os.path.realpath(linked)):
            if path != root and not path.startswith(root + os.sep):
                raise ArtifactError(f"illegal file path in the artifact archive: {member.name}")
    tar.extractall(dest)
