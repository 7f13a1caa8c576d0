"""Newline-delimited JSON framing between the hub and the agent (one object per line).

Requests carry an integer ``id`` and an ``op``; the reply echoes ``id`` with ``ok`` and either the
result fields or ``error``.  Unsolicited events carry ``ev`` instead of ``id``.  The operations and
events are documented in :mod:`workflow_runtime.executors.local.agent`.
"""

from __future__ import annotations

from typing import Any

import orjson

MAX_LINE = 64 * 1024 * 1024
"""A peer sending a longer line is broken (a start request is a few kB)."""


def encode(message: dict[str, Any]) -> bytes:
    """One message as a line."""
    return orjson.dumps(message, option=orjson.OPT_APPEND_NEWLINE)


class LineDecoder:
    """Turns a byte stream into messages, keeping an incomplete trailing line for the next chunk."""

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        """The complete messages in ``data`` plus what earlier chunks left over."""
        *lines, pending = (self._pending + data).split(b"\n")
        if len(pending) > MAX_LINE:
            raise ValueError(f"protocol line longer than {MAX_LINE} bytes")
        self._pending = pending
        messages = [orjson.loads(line) for line in lines if line]
        if not all(isinstance(message, dict) for message in messages):
            raise ValueError("protocol messages are JSON objects")
        return messages
