"""Running Sensors inside the hub: one runner per sensor, replaced in place when it changes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine

from sensors.runtime import SensorRunner
from sensors.spec import Sensor
from triggerfish.bus.base import Bus
from triggers.base import TriggerDriver

if TYPE_CHECKING:
    from workflow_runtime.controller.ownership import OwnershipSettings

log = logging.getLogger(__name__)


class SensorManager:
    def __init__(
        self,
        bus: Bus,
        engine: AsyncEngine,
        drivers: Mapping[str, TriggerDriver],
        namespace: str = "default",
        *,
        cluster: OwnershipSettings | None = None,
    ) -> None:
        """``cluster``: the replica's settings when several replicas share the database (firing claims)."""
        self._bus = bus
        self._cluster = cluster
        self._engine = engine
        self._drivers = drivers
        self._namespace = namespace
        self._runners: dict[str, SensorRunner] = {}
        self._lock = asyncio.Lock()

    def key(self, sensor: Sensor) -> str:
        return f"{sensor.metadata.namespace or self._namespace}/{sensor.metadata.name}"

    def runners(self) -> dict[str, SensorRunner]:
        """Running sensors by ``namespace/name``."""
        return dict(self._runners)

    async def apply(self, sensor: Sensor) -> None:
        """Start the sensor, or replace a running version of it; its consumer offset and partial
        matches persist, so no event is lost or counted twice across the change."""
        runner = SensorRunner(
            sensor, self._bus, self._engine, self._drivers, namespace=self._namespace, cluster=self._cluster
        )
        async with self._lock:
            previous = self._runners.pop(self.key(sensor), None)
            if previous is not None:
                await previous.stop()
            await runner.start()
            self._runners[self.key(sensor)] = runner

    async def delete(self, namespace: str, name: str) -> None:
        async with self._lock:
            runner = self._runners.pop(f"{namespace}/{name}", None)
            if runner is not None:
                await runner.stop()

    async def close(self) -> None:
        async with self._lock:
            for runner in self._runners.values():
                try:
                    await runner.stop()
                except Exception:
                    log.exception("stopping a sensor failed")
            self._runners.clear()
