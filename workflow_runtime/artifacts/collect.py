"""Output artifacts: what Argo's wait container does once the main container has exited.

Each declared output is read from the step's view (``Executor.materialize``), archived unless
``archive: {none: {}}``, and stored: under its own ``s3.key`` (its own bucket, or the workflow's
repository for a key-only location), at its ``http.url``, or else at ``<key format>/<name>.tgz``
in the workflow's repository. The node records each saved artifact as Argo does, e.g.
``{"name": "out", "path": "/tmp/out", "s3": {"key": "wf/wf-gen-1234/out.tgz"}}``.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

from workflow_runtime.artifacts import http
from workflow_runtime.artifacts.archive import compression_level, pack
from workflow_runtime.artifacts.context import StepArtifacts
from workflow_runtime.artifacts.repository import ArtifactError
from workflow_runtime.executors.base import Executor
from workflow_runtime.spec.common import Artifact, S3Artifact

LOGS_ARTIFACT = "main-logs"


def save_outputs(
    artifacts: list[Artifact], executor: Executor, step_key: str, step: StepArtifacts
) -> tuple[list[dict[str, Any]], str | None]:
    """Save every output that exists; returns the saved artifacts and the first problem, if any.

    A missing optional output is left out silently; a missing required one is a problem (the node
    errors) but the other outputs are still saved."""
    saved: list[dict[str, Any]] = []
    problems: list[str] = []
    for art in artifacts:
        if not art.path:
            continue
        source = executor.materialize(step_key, art.path)
        if source is None:
            if not art.optional:
                problems.append(f"open {art.path}: no such file or directory")
            continue
        try:
            saved.append(_save(art, source, step))
        except ArtifactError as error:
            problems.append(f"failed to save output artifact {art.name}: {error}")
    return saved, problems[0] if problems else None


def _save(art: Artifact, source: Path, step: StepArtifacts) -> dict[str, Any]:
    assert art.path is not None
    if art.raw is not None:
        raise ArtifactError("raw artifacts are inputs only; an output needs s3, http or the repository")
    strategy = art.archive
    if strategy is not None and strategy.none is not None:
        upload, file_name = source, posixpath.basename(art.path.rstrip("/"))
    else:
        level = compression_level(strategy.tar.compression_level if strategy and strategy.tar else None)
        file_name = f"{art.name}.tgz"
        upload = step.staging / "outputs" / file_name
        upload.parent.mkdir(parents=True, exist_ok=True)
        pack(source, posixpath.basename(art.path.rstrip("/")) or art.name, upload, level)
    entry = art.to_argo()
    if art.http is not None:
        http.upload(art.http, upload)
        return entry
    location = art.s3 or S3Artifact()
    repository, key = step.locate(location, posixpath.join(step.prefix, file_name))
    repository.save(key, upload)
    entry["s3"] = {**entry.get("s3", {}), "key": key}
    return entry


def save_logs(executor: Executor, step_key: str, step: StepArtifacts) -> dict[str, Any]:
    """``archiveLogs``: the main container's output (stdout, then stderr) as the artifact ``main-logs``
    at ``<key format>/main.log``, stored as is (not archived), as Argo stores it."""
    log = step.staging / "main.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_bytes(executor.read_log(step_key, "stdout") + executor.read_log(step_key, "stderr"))
    key = posixpath.join(step.prefix, "main.log")
    step.repository().save(key, log)
    return {"name": LOGS_ARTIFACT, "s3": {"key": key}}
