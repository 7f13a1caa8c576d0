"""Input artifacts: which artifact an argument names (``from``, ``fromExpression``, ``subPath``), how
arguments bind to a template's inputs, and fetching them onto the host before a step starts.

An artifact travels between nodes as the JSON Argo records in node status
(``{"name": "out", "path": "/tmp/out", "s3": {"key": "wf/pod/out.tgz"}}``): that is the value of
``{{steps.a.outputs.artifacts.out}}``, so ``from`` is an ordinary reference that renders to it.
"""

from __future__ import annotations

import json
import os
import posixpath
import shutil
from pathlib import Path
from typing import Any

from workflow_runtime.artifacts import http
from workflow_runtime.artifacts.archive import is_tarball, unpack
from workflow_runtime.artifacts.context import StepArtifacts
from workflow_runtime.artifacts.repository import ArtifactError, ArtifactNotFound
from workflow_runtime.spec.common import Arguments, Artifact
from workflow_runtime.spec.template import Template
from workflow_runtime.templating import Scope, TemplateError, find_tags, render


class UnresolvedArtifact(ArtifactError):
    """``from`` names something not in scope (e.g. an optional output that was not produced)."""


def reference(artifact: Artifact) -> str | None:
    """What an argument or template output refers to: ``from``, or ``fromExpression`` as a tag."""
    if artifact.from_:
        return artifact.from_
    if artifact.from_expression:
        return "{{=" + artifact.from_expression + "}}"
    return None


def expressions_as_references(body: dict[str, Any]) -> dict[str, Any]:
    """A step/task body whose argument artifacts carry ``fromExpression`` as a ``{{= }}`` ``from``, so
    the step's ordinary rendering evaluates it with the step's variables (artifacts are JSON there)."""
    artifacts = (body.get("arguments") or {}).get("artifacts") or []
    if not any("fromExpression" in a for a in artifacts):
        return body
    converted = [
        {**{k: v for k, v in a.items() if k != "fromExpression"}, "from": "{{=" + a["fromExpression"] + "}}"}
        if "fromExpression" in a
        else a
        for a in artifacts
    ]
    return {**body, "arguments": {**body["arguments"], "artifacts": converted}}


def artifact_from(text: str, scope: Scope) -> Artifact:
    """The artifact ``text`` refers to: a ``{{...}}`` tag looked up in ``scope``, or its value already
    substituted. Raises :class:`UnresolvedArtifact` ("Unable to resolve") or :class:`ArtifactError`."""
    try:
        value = render(text, scope, allow_unresolved=True)
    except TemplateError as error:
        raise ArtifactError(str(error)) from None
    tags = find_tags(value)
    if tags:
        raise UnresolvedArtifact(f'Unable to resolve: "{tags[0].text.strip()}"')
    try:
        data = json.loads(value)
    except ValueError:
        data = None
    if not isinstance(data, dict) or "name" not in data:
        raise ArtifactError(f"Variable {text} is not an artifact")
    return Artifact.model_validate(data)


def with_sub_path(artifact: Artifact, sub_path: str | None) -> Artifact:
    """``subPath``: the artifact's key with a path appended (Argo's ``AppendToKey``)."""
    if not sub_path:
        return artifact
    if artifact.s3 is None or not artifact.s3.key:
        raise ArtifactError(f"subPath {sub_path!r} needs an artifact stored under a key (s3)")
    key = posixpath.join(artifact.s3.key, sub_path)
    return artifact.model_copy(update={"s3": artifact.s3.model_copy(update={"key": key})})


def bind_artifacts(template: Template, arguments: Arguments | None) -> list[Artifact]:
    """Argo's ``ProcessArgs`` for artifacts: each input, replaced by the argument of its name (keeping
    the input's ``path`` and ``mode``). An argument whose ``from`` cannot be resolved counts as not
    supplied when the argument or the input is optional."""
    supplied = {a.name: a for a in (arguments.artifacts or [])} if arguments else {}
    bound: list[Artifact] = []
    for art in template.inputs.artifacts or [] if template.inputs else []:
        argument = supplied.get(art.name)
        text = reference(argument) if argument is not None else None
        if argument is not None and text is not None:
            try:
                argument = with_sub_path(artifact_from(text, Scope()), argument.sub_path)
            except UnresolvedArtifact:
                if not (argument.optional or art.optional):
                    raise
                argument = None
        if not art.optional and not art.has_location_or_key():
            if argument is None:
                raise ArtifactError(f"inputs.artifacts.{art.name} was not supplied")
            if not argument.has_location_or_key():
                raise ArtifactError(f"inputs.artifacts.{art.name} missing location information")
        if argument is not None:
            own = {"name": art.name, "path": art.path, "mode": art.mode, "recurse_mode": art.recurse_mode}
            art = argument.model_copy(update=own)
        bound.append(art)
    return bound


def stage_inputs(artifacts: list[Artifact], step: StepArtifacts) -> dict[str, Path]:
    """Fetch every input artifact to the step's staging area: ``{path in the step: host path}``.

    Argo's init container: a missing non-optional artifact or a failed load raises
    :class:`ArtifactError`; an optional one that is absent is skipped."""
    staged: dict[str, Path] = {}
    for index, art in enumerate(artifacts):
        if not art.path:
            continue
        if not art.has_location_or_key():
            if art.optional:
                continue
            raise ArtifactError(f"required artifact '{art.name}' not supplied")
        dest = step.staging / "inputs" / str(index)
        dest.parent.mkdir(parents=True, exist_ok=True)
        download = dest.with_name(f"{index}.download")
        try:
            _fetch(art, download, step)
        except ArtifactNotFound as error:
            if art.optional:
                continue
            raise ArtifactError(f"artifact {art.name} failed to load: {error}") from None
        except ArtifactError as error:
            raise ArtifactError(f"artifact {art.name} failed to load: {error}") from None
        archive = art.archive
        if archive is not None and archive.none is not None:
            os.replace(download, dest)
        elif (archive is not None and archive.tar is not None) or is_tarball(download):
            unpack(download, dest)
            download.unlink()
        else:
            os.replace(download, dest)
        if art.mode is not None:
            _chmod(dest, art.mode, bool(art.recurse_mode))
        staged[posixpath.normpath(art.path)] = dest  # executors want normalised paths (no "/tmp/x/")
    return staged


def _fetch(art: Artifact, dest: Path, step: StepArtifacts) -> None:
    if art.raw is not None:
        dest.write_text(art.raw.data)
    elif art.http is not None:
        http.download(art.http, dest)
    elif art.s3 is not None:
        repository, key = step.locate(art.s3)
        shutil.rmtree(dest, ignore_errors=True)
        repository.load(key, dest)
    else:
        raise ArtifactError("no location: expected raw, http or s3")


def _chmod(path: Path, mode: int, recurse: bool) -> None:
    """``mode`` (and ``recurseMode``): the permission bits of the artifact, or of its whole tree."""
    path.chmod(mode)
    if recurse and path.is_dir():
        for folder, dirs, files in os.walk(path):
            for name in dirs + files:
                target = os.path.join(folder, name)
                if not os.path.islink(target):  # a link has no mode of its own on Linux
                    os.chmod(target, mode)
