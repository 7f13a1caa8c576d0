"""CloudEvents, the envelope every event travels in (cloudevents SDK, JSON structured format).

Conventions (written down in the README): ``source`` is the EventSource's name, ``type`` its kind
(``webhook``, ``github``, ``calendar``, ``minio``, ``kafka``…), ``subject`` the event name inside the
EventSource, and the extension ``namespace`` its namespace. ``id`` is stable across redeliveries of
the same thing (GitHub delivery id, S3 key + sequencer, cron scheduled time, Kafka
topic/partition/offset), so the bus can drop duplicates.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

Event = CloudEvent
_FORMAT = JSONFormat()


def new_event(
    *,
    id: str,
    source: str,
    type: str,
    subject: str,
    data: Any,
    namespace: str = "default",
    time: datetime | None = None,
    datacontenttype: str = "application/json",
) -> Event:
    attributes: dict[str, Any] = {
        "id": id,
        "source": source,
        "type": type,
        "subject": subject,
        "datacontenttype": datacontenttype,
        "namespace": namespace,
    }
    if time is not None:
        attributes["time"] = time
    return CloudEvent(attributes, data)


def encode(event: Event) -> bytes:
    return _FORMAT.write(event)


def decode(payload: bytes) -> Event:
    event = _FORMAT.read(CloudEvent, payload)
    assert isinstance(event, CloudEvent)
    return event


def namespace_of(event: Event) -> str:
    value = event.get_extension("namespace")
    return str(value) if value else "default"
