"""Schedules end to end against ``triggerfish server``: a ``calendar`` EventSource ticking every second
drives a Sensor that starts a run per tick, and a CronWorkflow on ``@every 2s`` starts runs named
``<cron>-<unix seconds of the tick>`` and trims its history.

Both schedules are applied once for the module and tick while the tests look at them, so the
module costs a few seconds of wall time rather than one schedule period per test.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.event_hub import EventHub, arguments_of, event_hubs, needs_isolation
from tests.support.processes import wait_for

pytestmark = needs_isolation


CRON_LABEL = "workflows.argoproj.io/cron-workflow"

CALENDAR: dict[str, Any] = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "EventSource",
    "metadata": {"name": "ticker"},
    "spec": {
        "calendar": {
            "every-second": {"interval": "1s", "metadata": {"team": "e2e"}},
            "descriptor": {"schedule": "@every 1s"},
        }
    },
}

TICK_SENSOR: dict[str, Any] = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Sensor",
    "metadata": {"name": "ticker"},
    "spec": {
        "dependencies": [{"name": "tick", "eventSourceName": "ticker", "eventName": "every-second"}],
        "triggers": [
            {
                "template": {
                    "name": "per-tick",
                    "argoWorkflow": {
                        "operation": "submit",
                        "source": {
                            "resource": {
                                "apiVersion": "argoproj.io/v1alpha1",
                                "kind": "Workflow",
                                "metadata": {"generateName": "tick-"},
                                "spec": {
                                    "entrypoint": "main",
                                    "arguments": {
                                        "parameters": [
                                            {"name": "event-time"},
                                            {"name": "event-id"},
                                            {"name": "team"},
                                        ]
                                    },
                                    "templates": [
                                        {
                                            "name": "main",
                                            "container": {"image": "busybox", "command": ["true"]},
                                        }
                                    ],
                                },
                            }
                        },
                        "parameters": [
                            {
                                "src": {"dependencyName": "tick", "dataKey": "eventTime"},
                                "dest": "spec.arguments.parameters.0.value",
                            },
                            {
                                "src": {"dependencyName": "tick", "contextKey": "id"},
                                "dest": "spec.arguments.parameters.1.value",
                            },
                            {
                                "src": {"dependencyName": "tick", "dataKey": "metadata.team"},
                                "dest": "spec.arguments.parameters.2.value",
                            },
                        ],
                    },
                }
            }
        ],
    },
}

CRON: dict[str, Any] = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "CronWorkflow",
    "metadata": {"name": "heartbeat"},
    "spec": {
        "schedules": ["@every 2s"],
        "concurrencyPolicy": "Allow",
        "successfulJobsHistoryLimit": 1,
        "workflowMetadata": {"labels": {"purpose": "e2e"}},
        "workflowSpec": {
            "entrypoint": "main",
            "templates": [
                {
                    "name": "main",
                    "steps": [
                        [
                            {
                                "name": "beat",
                                "template": "beat",
                                "arguments": {
                                    "parameters": [{"name": "at", "value": "{{workflow.scheduledTime}}"}]
                                },
                            }
                        ]
                    ],
                },
                {
                    "name": "beat",
                    "inputs": {"parameters": [{"name": "at"}]},
                    "container": {"image": "busybox", "command": ["echo", "{{inputs.parameters.at}}"]},
                },
            ],
        },
    },
}

TICK_ID = re.compile(r"^default/ticker/every-second:(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)Z$")


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EventHub]:
    with event_hubs(tmp_path_factory.mktemp("schedules")) as make:
        hub = make(settings={}).start()
        hub.apply(CALENDAR, TICK_SENSOR, CRON)
        yield hub


def tick_of(event_id: str) -> datetime:
    match = TICK_ID.match(event_id)
    assert match, f"unexpected calendar event id {event_id!r}"
    return datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC)


def test_calendar_interval_starts_one_run_per_tick(hub: EventHub) -> None:
    runs = hub.wait_runs(3, sensor="ticker", timeout=15)
    ticks = {}
    for run in runs[:3]:
        done = hub.wait_completed(run["metadata"]["name"], timeout=20)
        assert done["status"]["phase"] == "Succeeded", done["status"]
        args = arguments_of(done)
        tick = tick_of(args["event-id"])
        # Go's time.Time.String() of the scheduled tick, as Argo's CalendarEventData.eventTime
        assert args["event-time"] == tick.strftime("%Y-%m-%d %H:%M:%S +0000 UTC")
        assert args["team"] == "e2e"
        ticks[args["event-id"]] = done["metadata"]["name"]
    assert len(ticks) == 3, "two runs for the same tick"

    events = hub.events(subject="every-second", limit=1000)
    instants = sorted(tick_of(e["id"]) for e in events)
    assert len(instants) == len(set(instants))
    assert all(i.microsecond == 0 for i in instants)  # epoch-anchored: whole seconds
    steps = {(b - a).total_seconds() for a, b in itertools.pairwise(instants)}
    assert steps <= {1.0}, f"ticks are not one second apart: {instants}"
    for event_id, name in ticks.items():
        assert [w["name"] for w in hub.lineage(event_id)["workflows"]] == [name]
    # the `schedule: "@every 1s"` spelling ticks too
    assert hub.events(subject="descriptor")


def test_cron_every_2s_names_runs_by_epoch_and_trims_history(hub: EventHub) -> None:
    def cron_runs() -> dict[int, dict[str, Any]]:
        out = {}
        for run in hub.runs():
            if run["metadata"]["labels"].get(CRON_LABEL) == "heartbeat":
                match = re.fullmatch(r"heartbeat-(\d+)", run["metadata"]["name"])
                assert match, run["metadata"]["name"]
                out[int(match.group(1))] = run
        return out

    first = wait_for(lambda: cron_runs() or None, 10, "a heartbeat run")
    epoch = max(first)
    assert epoch % 2 == 0, "@every 2s ticks are anchored at the Unix epoch"
    done = hub.wait_completed(f"heartbeat-{epoch}", timeout=20)
    assert done["status"]["phase"] == "Succeeded", done["status"]
    scheduled = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert done["metadata"]["annotations"]["workflows.argoproj.io/scheduled-time"] == scheduled
    assert done["metadata"]["labels"]["purpose"] == "e2e"
    (beat,) = [n for n in done["status"]["nodes"].values() if n["type"] == "Pod"]
    assert beat["inputs"]["parameters"] == [{"name": "at", "value": scheduled}]

    # Two ticks later, the run of `epoch` is the second-newest finished one: trimmed (limit 1).
    wait_for(lambda: max(cron_runs()) >= epoch + 4 or None, 10, "two more heartbeat ticks")
    names = cron_runs()
    assert all((e - epoch) % 2 == 0 for e in names), sorted(names)
    assert epoch not in names, f"history limit 1 kept {sorted(names)}"
    assert hub.client.get(f"/api/v1/workflows/default/heartbeat-{epoch}").status_code == 404
    assert len(names) <= 2, sorted(names)
