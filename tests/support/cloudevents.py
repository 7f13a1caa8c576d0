"""Typed views of a CloudEvent's fields for assertions (the SDK types them loosely)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from triggerfish.events import Event


def data_of(event: Event) -> dict[str, Any]:
    """The event's JSON data, which every Triggerfish source makes an object."""
    data = event.get_data()
    assert isinstance(data, dict), f"event data is {type(data).__name__}, not an object"
    return data


def time_of(event: Event) -> datetime:
    time = event.get_time()
    assert time is not None, "event has no time"
    return time
