"""Errors about a manifest, each naming the offending field by its YAML path."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import ValidationError


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem in a manifest: where (``spec.templates[2].dag.tasks[0].depends``) and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason


class ManifestError(ValueError):
    """A manifest that cannot be accepted. ``issues`` lists every problem found, not just the first."""

    def __init__(self, issues: Sequence[Issue], source: str = "") -> None:
        self.issues = list(issues)
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__(prefix + "; ".join(str(issue) for issue in self.issues))


def format_path(loc: Iterable[str | int]) -> str:
    """``("spec", "templates", 0, "name")`` → ``spec.templates[0].name``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


_REASONS = {
    "extra_forbidden": "unknown field",
    "missing": "required field is missing",
}


def issues_from_validation(error: ValidationError, prefix: Sequence[str | int] = ()) -> list[Issue]:
    """Turn pydantic's errors into path + reason, dropping pydantic's internal union tags."""
    issues: list[Issue] = []
    for err in error.errors():
        loc = [part for part in err["loc"] if not (isinstance(part, str) and "[" in part)]
        reason = _REASONS.get(err["type"], err["msg"])
        issue = Issue(format_path([*prefix, *loc]), reason)
        if issue not in issues:
            issues.append(issue)
    return issues
