"""CloudEvents written and read with orjson must be the documents the cloudevents SDK writes and reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from triggerfish.events import decode, encode, new_event

SDK = JSONFormat()
CASES: list[tuple[Any, str]] = [
    (
        {"body": {"é": "ü <&>", "n": None, "list": [1, 2.5, True]}, "headers": {"A": ["b"]}},
        "application/json",
    ),
    ({"at": datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)}, "application/json"),
    ({"big": 2**70}, "application/json"),  # beyond orjson: the SDK writes it
    ([1, "two"], "application/json"),
    ("plain text", "text/plain"),
    (b"\x00\x01binary", "application/octet-stream"),
    (None, "application/json"),
]


@pytest.mark.parametrize(("data", "content_type"), CASES)
def test_same_document_as_the_sdk_and_back(data: Any, content_type: str) -> None:
    zone = timezone(timedelta(hours=2))
    for time in (datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC), datetime(2024, 5, 6, 7, 8, 9, 5, tzinfo=zone)):
        event = new_event(
            id="e1", source="s", type="t", subject="x", data=data, time=time, datacontenttype=content_type
        )
        written = encode(event)
        assert json.loads(written) == json.loads(SDK.write(event))
        ours, theirs = decode(written), SDK.read(CloudEvent, SDK.write(event))
        assert ours.get_attributes() == theirs.get_attributes()
        assert ours.get_data() == theirs.get_data()
        assert ours.get_time() == time


def test_utc_times_end_in_z() -> None:
    event = new_event(
        id="e", source="s", type="t", subject="x", data={}, time=datetime(2024, 1, 1, tzinfo=UTC)
    )
    assert json.loads(encode(event))["time"] == "2024-01-01T00:00:00Z"


def test_a_time_python_does_not_parse_goes_through_the_sdk() -> None:
    document = {"specversion": "1.0", "id": "e", "source": "s", "type": "t", "time": "2024-01-01T24:00:00Z"}
    event = decode(json.dumps(document).encode())
    assert event.get_time() == datetime(2024, 1, 2, tzinfo=UTC)  # dateutil's reading of hour 24
