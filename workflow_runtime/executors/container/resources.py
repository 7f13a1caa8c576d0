"""Kubernetes resource limits (``resources.limits`` of a template) as ``run`` flags.

``requests`` only inform a scheduler, which one machine does not have, so only limits are enforced:
``cpu`` → ``--cpus`` (CFS quota), ``memory`` → ``--memory``; other resources are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from workflow_runtime.executors.base import ExecutorError

_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|e[0-9]+)?$")
_FACTORS = {
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
    "Pi": 2.0**50,
    "Ei": 2.0**60,
}


def quantity(text: str) -> float:
    """The value of a Kubernetes quantity such as ``500m``, ``1.5``, ``64Mi`` or ``1e3``."""
    match = _QUANTITY.match(text.strip())
    if match is None:
        raise ValueError(f"invalid quantity {text!r}")
    number, suffix = float(match[1]), match[2]
    if suffix is None:
        return number
    if suffix.startswith("e"):
        return number * 10.0 ** int(suffix[1:])
    return number * _FACTORS[suffix]


def resource_flags(limits: Mapping[str, str]) -> list[str]:
    """``run`` flags for the limits; ExecutorError naming the field for a malformed quantity."""
    values = {}
    for name in ("cpu", "memory"):
        if name in limits:
            try:
                values[name] = quantity(limits[name])
            except ValueError as error:
                raise ExecutorError(f"resources.limits.{name}: {error}") from None
    flags = []
    if "cpu" in values:
        flags += ["--cpus", f"{values['cpu']:g}"]
    if "memory" in values:
        flags += ["--memory", str(int(values["memory"]))]
    return flags
