"""A real ``triggerfish server`` for end-to-end tests of the event pipeline, with helpers that speak
its HTTP API: apply manifests, list events and runs, follow lineage, replay.

Built on :class:`tests.support.processes.HubServer` (SIGKILL-able child process, fresh port per
start); adds a settings file (``--config``) and the Triggerfish-specific endpoints.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.processes import COMPLETED, HubServer, kill_agent, wait_for
from workflow_runtime.executors.local import sandbox

API = "argoproj.io/v1alpha1"
MANIFESTS = "/api/v1/triggerfish/manifests"
EVENTS = "/api/v1/triggerfish/events"
SENSOR_LABEL = "events.argoproj.io/sensor"

_ISOLATION_PROBLEM = sandbox.isolation_problem()
needs_isolation = pytest.mark.skipif(
    _ISOLATION_PROBLEM is not None, reason=f"no step isolation here: {_ISOLATION_PROBLEM}"
)
"""Workflow steps run in a private overlay view, which needs root and mount namespaces."""


def github_signature(secret: str, body: bytes) -> str:
    """``X-Hub-Signature-256`` as GitHub computes it: HMAC-SHA256 of the raw body, hex."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class EventHub(HubServer):
    """A hub started with a settings file; every helper goes through the real HTTP API."""

    def __init__(
        self,
        data_dir: Path,
        log_dir: Path,
        settings: Mapping[str, Any] | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        args = list(extra_args)
        if settings is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
            config = log_dir / "settings.yaml"
            config.write_text(yaml.safe_dump(dict(settings)))
            args = ["--config", str(config), *args]
        super().__init__(data_dir, log_dir, args)

    def start(self, timeout: float = 30.0) -> EventHub:
        super().start(timeout)
        return self

    # -- manifests ---------------------------------------------------------------------------------

    def apply_response(self, manifest: Mapping[str, Any]) -> httpx.Response:
        return self.client.post(MANIFESTS, json=dict(manifest))

    def apply(self, *manifests: Mapping[str, Any]) -> list[dict[str, Any]]:
        applied = []
        for manifest in manifests:
            response = self.apply_response(manifest)
            assert response.status_code == 200, f"{response.status_code} {response.text}"
            applied.append(response.json())
        return applied

    # -- events ------------------------------------------------------------------------------------

    def events(self, **params: Any) -> list[dict[str, Any]]:
        response = self.client.get(EVENTS, params=params)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    def event(self, ref: str | int) -> dict[str, Any]:
        response = self.client.get(f"{EVENTS}/{ref}")
        assert response.status_code == 200, response.text
        document: dict[str, Any] = response.json()
        return document

    def lineage(self, ref: str | int) -> dict[str, Any]:
        response = self.client.get(f"{EVENTS}/{ref}/lineage")
        assert response.status_code == 200, response.text
        document: dict[str, Any] = response.json()
        return document

    def replay(self, ref: str | int, sensor: str | None = None) -> dict[str, Any]:
        params = {"sensor": sensor} if sensor else {}
        response = self.client.post(f"{EVENTS}/{ref}/replay", params=params)
        assert response.status_code == 200, response.text
        document: dict[str, Any] = response.json()
        return document

    # -- runs --------------------------------------------------------------------------------------

    def runs(self, sensor: str | None = None, namespace: str = "default") -> list[dict[str, Any]]:
        """Workflow runs (without nodes), optionally only those a sensor created."""
        params = {"listOptions.labelSelector": f"{SENSOR_LABEL}={sensor}"} if sensor else {}
        response = self.client.get(f"/api/v1/workflows/{namespace}", params=params)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"] or []
        return items

    def run_names(self, sensor: str | None = None, namespace: str = "default") -> list[str]:
        return sorted(run["metadata"]["name"] for run in self.runs(sensor, namespace))

    def wait_runs(
        self,
        count: int,
        sensor: str | None = None,
        timeout: float = 20.0,
        namespace: str = "default",
        predicate: Callable[[dict[str, Any]], bool] = lambda _: True,
    ) -> list[dict[str, Any]]:
        """Poll until at least ``count`` matching runs exist; returns them (sorted by name)."""

        def probe() -> list[dict[str, Any]] | None:
            runs = [run for run in self.runs(sensor, namespace) if predicate(run)]
            return sorted(runs, key=lambda r: str(r["metadata"]["name"])) if len(runs) >= count else None

        try:
            return wait_for(probe, timeout, f"{count} run(s) of sensor {sensor}", interval=0.1)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{self.log_text()}") from None

    def wait_completed_all(self, names: Sequence[str], timeout: float = 30.0) -> list[dict[str, Any]]:
        return [self.wait_completed(name, timeout) for name in names]


def phase_of(run: Mapping[str, Any]) -> str:
    return str(run.get("status", {}).get("phase") or "")


def is_completed(run: Mapping[str, Any]) -> bool:
    return phase_of(run) in COMPLETED


def arguments_of(run: Mapping[str, Any]) -> dict[str, str]:
    """``spec.arguments.parameters`` as a name → value mapping."""
    parameters = (run.get("spec", {}).get("arguments") or {}).get("parameters") or []
    return {p["name"]: p.get("value") for p in parameters}


def step_inputs(run: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """The input parameters of every Pod node, by display name."""
    out: dict[str, dict[str, str]] = {}
    for node in (run.get("status", {}).get("nodes") or {}).values():
        if node.get("type") == "Pod":
            params = (node.get("inputs") or {}).get("parameters") or []
            out[node["displayName"]] = {p["name"]: p.get("value") for p in params}
    return out


@contextlib.contextmanager
def event_hubs(base: Path) -> Iterator[Callable[..., EventHub]]:
    """A factory of :class:`EventHub`s under ``base``; every hub and executor agent it made is
    killed on exit (SIGKILL: teardown must not depend on the hub shutting down cleanly)."""
    made: list[EventHub] = []

    def make(
        settings: Mapping[str, Any] | None = None,
        data_dir: Path | None = None,
        extra_args: Sequence[str] = (),
    ) -> EventHub:
        index = len(made)
        hub = EventHub(data_dir or base / f"hub{index}", base / f"hub{index}-logs", settings, extra_args)
        made.append(hub)
        return hub

    try:
        yield make
    finally:
        for hub in made:
            hub.kill()
        for hub in made:
            kill_agent(hub.data_dir)
