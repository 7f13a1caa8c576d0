"""The ``log`` trigger: write the matched events to the hub's log (``pkg/sensors/triggers/log``).

With ``intervalSeconds`` a trigger logs at most once per interval, to keep busy sensors readable.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable
from typing import ClassVar

from sensors.filters import event_data
from sensors.parameters import event_context
from sensors.spec import LogTrigger
from triggerfish.events import Event
from triggerfish.expressions.gjson import raw_json
from triggers.base import FireResult, Firing

__all__ = ["LogTriggerDriver", "data_string"]

_log = logging.getLogger("triggerfish.triggers.log")


def data_string(event: Event) -> str:
    """Argo's ``Event.DataString``: JSON and plain text as text, anything else base64."""
    data = event_data(event)
    if not data.present:
        return ""
    media = (event.get_datacontenttype() or "application/json").split(";")[0].strip()
    if media in ("application/json", "text/plain"):
        return data.raw.decode(errors="replace")
    return base64.b64encode(data.raw).decode()


class LogTriggerDriver:
    kind: ClassVar[str] = "log"

    def __init__(
        self, logger: logging.Logger | None = None, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._logger = logger or _log
        self._monotonic = monotonic
        self._last: dict[tuple[str, str, str], float] = {}

    async def fire(self, spec: LogTrigger, firing: Firing) -> FireResult:
        key = (firing.namespace, firing.sensor, firing.trigger)
        now = self._monotonic()
        last = self._last.get(key)
        if last is not None and now < last + spec.interval_seconds:
            return FireResult({"logged": 0})
        for dependency, event in firing.events.items():
            context = event_context(event)
            self._logger.info(
                "%s dependencyName=%s eventContext=%s",
                data_string(event),
                dependency,
                raw_json(context),
                extra={"sensor": firing.sensor, "trigger": firing.trigger, "dependencyName": dependency},
            )
        self._last[key] = now
        return FireResult({"logged": len(firing.events)})
