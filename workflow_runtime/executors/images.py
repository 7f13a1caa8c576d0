"""The image table: an image's entrypoint and default command, for executors that run no images.

A container runtime reads ENTRYPOINT and CMD from the image; the local executor has no image, so it
reads them from this table, like Argo's ``images`` controller setting.  With no template ``command``
a step runs ``entrypoint + (args or cmd)``; with a ``command`` it runs ``command + args`` (Kubernetes
semantics: a command discards both the entrypoint and cmd).

Keys match images by repository, ignoring the registry and Docker Hub's ``library/`` prefix
(``docker.io/library/alpine:3.23`` is ``alpine:3.23``).  A key without a tag matches every tag, and
keys may use shell wildcards (``python:3.*``).  An exact key wins over patterns, a longer pattern
over a shorter one; entries given to the constructor replace defaults with the same key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from types import MappingProxyType

from workflow_runtime.executors.base import ExecutorError


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """What the image's Dockerfile would say."""

    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    toolbox: str | None = None
    """A userland the image ships that the host lacks (``busybox``: ash's ``$RANDOM``, busybox ``od``…);
    executors without images put it first on the step's PATH."""


ImageEntry = ImageConfig | Mapping[str, Sequence[str]]
"""An ImageConfig or the configuration-file form ``{"entrypoint": [...], "cmd": [...]}``."""

DEFAULT_IMAGES: Mapping[str, ImageConfig] = MappingProxyType(
    {
        # Argo's test images: v1 is ubuntu + cowsay with CMD ["cowsay"]; v2 adds ENTRYPOINT ["/argosay"].
        "argoproj/argosay:v1": ImageConfig(cmd=("cowsay",)),
        "argoproj/argosay:v2": ImageConfig(entrypoint=("argosay",)),
        # The real image has no entrypoint (templates always say `command: [cowsay]`), as in Argo's docs.
        "docker/whalesay": ImageConfig(cmd=("/bin/bash",)),
        "busybox": ImageConfig(cmd=("sh",), toolbox="busybox"),
        "alpine": ImageConfig(cmd=("sh",), toolbox="busybox"),
        "debian": ImageConfig(cmd=("bash",)),
        "ubuntu": ImageConfig(cmd=("bash",)),
        "python": ImageConfig(cmd=("python3",)),
        "node": ImageConfig(cmd=("node",)),
    }
)

_WILDCARDS = frozenset("*?[")


def parse_image(reference: str) -> tuple[str, str | None]:
    """``(repository, tag)`` of an image reference without registry, ``library/`` and digest."""
    reference = reference.split("@", 1)[0]
    name: str = reference
    tag: str | None = None
    colon = reference.rfind(":")
    if colon > reference.rfind("/"):
        name, tag = reference[:colon], reference[colon + 1 :]
    parts = name.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]
    if len(parts) > 1 and parts[0] == "library":
        parts = parts[1:]
    return "/".join(parts), tag


class ImageTable:
    """Resolves the argv of steps whose template has no ``command``."""

    def __init__(
        self, entries: Mapping[str, ImageEntry] | None = None, *, include_defaults: bool = True
    ) -> None:
        self._exact: dict[str, ImageConfig] = {}
        self._patterns: dict[str, ImageConfig] = {}
        for table in (DEFAULT_IMAGES if include_defaults else {}, entries or {}):
            for key, entry in table.items():
                self._add(key, entry if isinstance(entry, ImageConfig) else _config(key, entry))
        self._ordered = sorted(self._patterns.items(), key=lambda item: -len(item[0]))

    def _add(self, key: str, config: ImageConfig) -> None:
        name, tag = parse_image(key)
        normalized = f"{name}:{tag or '*'}"  # a key without a tag means every tag
        table = self._patterns if _WILDCARDS.intersection(normalized) else self._exact
        table[normalized] = config

    def lookup(self, image: str) -> ImageConfig | None:
        """The entry for ``image``, or None when the table does not know it."""
        name, tag = parse_image(image)
        reference = f"{name}:{tag or 'latest'}"
        config = self._exact.get(reference)
        if config is not None:
            return config
        return next((c for pattern, c in self._ordered if fnmatchcase(reference, pattern)), None)

    def argv(self, image: str, command: Sequence[str], args: Sequence[str]) -> list[str]:
        """What to execute for a step, or ExecutorError saying how to configure the image."""
        if command:
            return [*command, *args]
        config = self.lookup(image)
        argv = [*config.entrypoint, *(args or config.cmd)] if config else []
        if argv:
            return argv
        name, _ = parse_image(image)
        known = "has no entrypoint or cmd in" if config else "is not in"
        raise ExecutorError(
            f"image {image!r} {known} the local executor's image table and the template sets no command: "
            f"set `command` in the template, or add the image to the table, e.g. "
            f"LocalExecutor(images={{{name!r}: {{'entrypoint': [...], 'cmd': [...]}}}})"
        )


def _config(key: str, entry: Mapping[str, Sequence[str]]) -> ImageConfig:
    unknown = set(entry) - {"entrypoint", "cmd", "toolbox"}
    if unknown:
        raise ValueError(
            f"image table entry {key!r}: unknown fields {sorted(unknown)} (use entrypoint, cmd, toolbox)"
        )
    for field in ("entrypoint", "cmd"):
        if field not in entry:
            continue
        value = entry.get(field, ())
        if isinstance(value, str) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"image table entry {key!r}: {field} must be a list of strings")
    toolbox = entry.get("toolbox")
    if toolbox is not None and not isinstance(toolbox, str):
        raise ValueError(f"image table entry {key!r}: toolbox must be a string")
    return ImageConfig(
        entrypoint=tuple(entry.get("entrypoint", ())), cmd=tuple(entry.get("cmd", ())), toolbox=toolbox
    )
