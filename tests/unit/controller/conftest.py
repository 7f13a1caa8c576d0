"""Controller-test fixtures: the fake executor understands a few more verbs (see ``rich_behaviour``)."""

from __future__ import annotations

import pytest

from tests.support.fake_executor import FakeExecutor, Outcome, echo_behaviour
from workflow_runtime.executors.base import StepSpec


def rich_behaviour(spec: StepSpec) -> Outcome:
    """``echo_behaviour`` plus ``say MSG SECONDS [FILE]`` (print or write MSG after SECONDS) and
    ``code N SECONDS`` (exit N after SECONDS), ``codes C0,C1,.. N`` (exit with code C<N>)."""
    words = [*spec.command, *spec.args]
    if words[:1] == ["say"]:
        message, seconds = words[1], float(words[2])
        if len(words) > 3:
            return Outcome(files={words[3]: message}, seconds=seconds)
        return Outcome(stdout=message + "\n", seconds=seconds)
    if words[:1] == ["code"]:
        return Outcome(exit_code=int(words[1]), seconds=float(words[2]))
    if words[:1] == ["codes"]:  # codes C0,C1,... N: exit with the N-th code (attempt N of a retry)
        codes = [int(c) for c in words[1].split(",")]
        attempt = int(words[2])
        return Outcome(exit_code=codes[min(attempt, len(codes) - 1)], stdout=f"attempt {attempt}\n")
    return echo_behaviour(spec)


@pytest.fixture(autouse=True)
def _rich_fake(fake_executor: FakeExecutor) -> None:
    fake_executor.behaviour = rich_behaviour
