"""The ``triggerfish`` command line as a user runs it: real subprocesses, real steps.

``run`` every example (exit 0 when it Succeeded, 1 otherwise, 2 for a manifest it refuses), ``-p``
and ``--entrypoint``, ``lint``, then ``list``, ``get`` and ``logs`` against the data directory that
``run`` filled.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.processes import kill_agent, run_cli
from workflow_runtime.executors.local import sandbox

pytestmark = pytest.mark.skipif(
    sandbox.isolation_problem() is not None, reason=f"no step isolation here: {sandbox.isolation_problem()}"
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "workflows"

# Per example: the exit code of `triggerfish run`, the final phase, and tree rows (icon, display name)
# that must appear ("*" stands for the generated workflow name).
EXPECTED: dict[str, tuple[int, str, list[tuple[str, str]]]] = {
    "conditionals.yaml": (
        0,
        "Succeeded",
        [("✔", "*"), ("✔", "flip"), ("✔", "heads"), ("○", "tails"), ("✔", "expression")],
    ),
    "dag-diamond.yaml": (0, "Succeeded", [("✔", "*"), ("✔", "A"), ("✔", "B"), ("✔", "C"), ("✔", "D")]),
    "exit-handler.yaml": (
        1,
        "Failed",
        [
            ("✖", "*"),
            ("✔", "work"),
            ("✖", "fail"),
            ("✔", "*.onExit"),
            ("✔", "notify"),
            ("○", "celebrate"),
            ("✔", "investigate"),
        ],
    ),
    "hello-world.yaml": (0, "Succeeded", [("✔", "*")]),
    "loops.yaml": (
        0,
        "Succeeded",
        [
            ("✔", "greet(0:lang:en,name:Ada)"),
            ("✔", "greet(2:lang:fi,name:Linus)"),
            ("✔", "generate"),
            ("✔", "square(4:5)"),
            ("✔", "total"),
        ],
    ),
    "parameters.yaml": (0, "Succeeded", [("✔", "*"), ("✔", "write"), ("✔", "read")]),
    "retries.yaml": (0, "Succeeded", [("✔", "*"), ("✖", "*(0)"), ("✖", "*(1)"), ("✔", "*(2)")]),
}

FINAL_LINE = re.compile(r"^(?P<name>[a-z0-9-]+) (?P<phase>Succeeded|Failed|Error) in [0-9.]+s$", re.MULTILINE)


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """A hub data directory; the executor agent that runs left behind is killed afterwards."""
    directory = tmp_path / "data"
    yield directory
    kill_agent(directory)


def run_json(*args: str | Path) -> dict[str, Any]:
    result = run_cli(["run", *args, "-o", "json"])
    assert result.returncode in (0, 1), result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def nodes_by_display_name(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["displayName"]: n for n in document["status"]["nodes"].values()}


def parameter(params: dict[str, Any] | None, name: str) -> Any:
    return next(p.get("value") for p in (params or {}).get("parameters") or [] if p["name"] == name)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# -------------------------------------------------------------------------------------- run


def test_every_example_is_covered() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("example", sorted(EXPECTED))
def test_run_example(example: str, data_dir: Path) -> None:
    code, phase, rows = EXPECTED[example]
    result = run_cli(["run", EXAMPLES / example, "--data-dir", data_dir])

    assert result.returncode == code, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    final = FINAL_LINE.search(result.stdout)
    assert final is not None, result.stdout
    assert final["phase"] == phase
    name = final["name"]
    assert re.search(rf"^Status:\s+{phase}\s*$", result.stdout, re.MULTILINE), result.stdout
    assert re.search(r"^STEP\s+TEMPLATE\s+PODNAME\s+DURATION\s+MESSAGE", result.stdout, re.MULTILINE)
    for icon, display in rows:
        label = display.replace("*", name)
        pattern = rf"^[ │├└─]*{re.escape(icon)} {re.escape(label)}\s"
        assert re.search(pattern, result.stdout, re.MULTILINE), f"no row {icon} {label} in:\n{result.stdout}"


def test_parameter_override_changes_the_result(data_dir: Path) -> None:
    manifest = yaml.safe_load((EXAMPLES / "parameters.yaml").read_text())
    default = parameter(manifest["spec"]["arguments"], "message")
    assert default != "bonjour"

    document = run_json(EXAMPLES / "parameters.yaml", "-p", "message=bonjour", "--data-dir", data_dir)

    assert document["status"]["phase"] == "Succeeded"
    assert parameter(document["spec"]["arguments"], "message") == "bonjour"
    nodes = nodes_by_display_name(document)
    assert parameter(nodes["write"]["inputs"], "text") == "bonjour"
    assert parameter(nodes["write"]["outputs"], "written") == "bonjour"
    assert parameter(nodes["read"]["inputs"], "text") == "bonjour"
    assert parameter(document["status"]["outputs"], "written-message") == "bonjour"


def test_entrypoint_override_runs_another_template(data_dir: Path) -> None:
    """exit-handler.yaml fails from `main`; starting at `work` it succeeds, and its exit handler sees it."""
    document = run_json(EXAMPLES / "exit-handler.yaml", "--entrypoint", "work", "--data-dir", data_dir)

    assert document["status"]["phase"] == "Succeeded"
    assert document["spec"]["entrypoint"] == "work"
    nodes = nodes_by_display_name(document)
    root = nodes[document["metadata"]["name"]]
    assert (root["type"], root["templateName"]) == ("Pod", "work")
    assert "fail" not in nodes
    assert nodes["celebrate"]["phase"] == "Succeeded"
    assert nodes["investigate"]["phase"] == "Skipped"


@dataclass(frozen=True)
class Invalid:
    id: str
    text: str | None  # None: the file does not exist
    messages: tuple[str, ...]
    extra: tuple[str, ...] = ()


UNKNOWN_TEMPLATE = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: unknown-template-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: a, template: nope}
"""

INVALID = [
    Invalid("malformed-yaml", "apiVersion: v1\nkind: Workflow\nmetadata: [\n", ("malformed YAML at line 4",)),
    Invalid(
        "unknown-template",
        UNKNOWN_TEMPLATE,
        ("spec.templates[0].steps[0][0].template", "template name 'nope' undefined"),
    ),
    Invalid(
        "unknown-field",
        UNKNOWN_TEMPLATE.replace("steps:\n    - - {name: a, template: nope}", "containr: {image: busybox}"),
        ("spec.templates[0].containr: unknown field",),
    ),
    Invalid("missing-file", None, ("cannot read", "No such file or directory")),
    Invalid(
        "bad-entrypoint", None, ("spec.entrypoint: template name 'nope' undefined",), ("--entrypoint", "nope")
    ),
    Invalid("bad-parameter", None, ("expected parameter of the form: NAME=VALUE",), ("-p", "message")),
]


@pytest.mark.parametrize("case", INVALID, ids=[c.id for c in INVALID])
def test_run_refuses_invalid_input_with_exit_2(case: Invalid, tmp_path: Path, data_dir: Path) -> None:
    if case.text is not None:
        file = write(tmp_path / f"{case.id}.yaml", case.text)
    elif case.id == "missing-file":
        file = tmp_path / "missing.yaml"
    else:
        file = EXAMPLES / "hello-world.yaml"

    result = run_cli(["run", file, "--data-dir", data_dir, *case.extra])

    assert result.returncode == 2, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    for message in case.messages:
        assert message in result.stderr, result.stderr
    if case.id != "bad-parameter":
        assert file.name in result.stderr
    assert "Traceback" not in result.stderr
    assert not FINAL_LINE.search(result.stdout), "nothing may run"


# -------------------------------------------------------------------------------------- lint


def test_lint_accepts_every_example() -> None:
    files = sorted(EXAMPLES.glob("*.yaml"))
    result = run_cli(["lint", *files])
    assert result.returncode == 0, result.stdout + result.stderr
    for file in files:
        assert f"{file}: no linting errors found!" in result.stdout


CYCLE = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: cycle-}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: a, template: echo, depends: b}
      - {name: b, template: echo, depends: a}
  - name: echo
    container: {image: busybox, command: [echo, hi]}
"""


@pytest.mark.parametrize(
    ("text", "messages"),
    [
        (UNKNOWN_TEMPLATE, ["spec.templates[0].steps[0][0].template:", "template name 'nope' undefined"]),
        (CYCLE, ["spec.templates[0].dag.tasks[", "dependency cycle detected"]),
        ("apiVersion: v1\nkind: Workflow\nmetadata: [\n", ["malformed YAML at line 4"]),
    ],
    ids=["unknown-template", "dag-cycle", "malformed-yaml"],
)
def test_lint_reports_problems_by_yaml_path(text: str, messages: list[str], tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.yaml", text)
    good = EXAMPLES / "hello-world.yaml"

    result = run_cli(["lint", good, bad])

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{good}: no linting errors found!" in result.stdout
    assert f"{bad}:" in result.stdout
    for message in messages:
        assert message in result.stdout, result.stdout
    assert "✖ 1 linting errors found!" in result.stdout


# -------------------------------------------------------------------------------------- list, get, logs


@dataclass(frozen=True)
class History:
    data_dir: Path
    hello: str
    parameters: str
    exit_handler: str  # the latest


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    """Three runs, one after the other, in one data directory."""
    data_dir = tmp_path_factory.mktemp("history") / "data"
    names = []
    try:
        for args in (
            ["hello-world.yaml"],
            ["parameters.yaml", "-p", "message=bonjour"],
            ["exit-handler.yaml"],
        ):
            result = run_cli(["run", EXAMPLES / args[0], *args[1:], "--data-dir", data_dir])
            final = FINAL_LINE.search(result.stdout)
            assert final is not None, result.stdout + result.stderr
            names.append(final["name"])
        yield History(data_dir, *names)
    finally:
        kill_agent(data_dir)


def cli(history: History, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli([*args, "--data-dir", history.data_dir])


def test_list_names_newest_first(history: History) -> None:
    result = cli(history, "list", "-o", "name")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [history.exit_handler, history.parameters, history.hello]


def test_list_json_yaml_and_status_filter(history: History) -> None:
    documents = json.loads(cli(history, "list", "-o", "json").stdout)
    assert {d["metadata"]["name"]: d["status"]["phase"] for d in documents} == {
        history.hello: "Succeeded",
        history.parameters: "Succeeded",
        history.exit_handler: "Failed",
    }
    as_yaml = yaml.safe_load(cli(history, "list", "-o", "yaml").stdout)
    assert [d["metadata"]["name"] for d in as_yaml] == [d["metadata"]["name"] for d in documents]
    failed = json.loads(cli(history, "list", "--status", "Failed", "-o", "json").stdout)
    assert [d["metadata"]["name"] for d in failed] == [history.exit_handler]
    other = cli(history, "list", "-n", "elsewhere", "-o", "name")
    assert other.returncode == 0 and other.stdout.strip() == ""


def test_list_tables(history: History) -> None:
    table = cli(history, "list").stdout
    assert re.search(r"^NAME\s+STATUS\s+AGE\s+DURATION\s+MESSAGE", table, re.MULTILINE), table
    assert re.search(rf"^{history.exit_handler}\s+Failed\s", table, re.MULTILINE), table
    wide = cli(history, "list", "-o", "wide").stdout
    assert re.search(r"^NAME\s+NAMESPACE\s+STATUS\s+.*PROGRESS\s+PARAMETERS", wide, re.MULTILINE), wide
    assert re.search(rf"^{history.parameters}\s+default\s+Succeeded\s.*2/2\s+message=bonjour", wide, re.M), (
        wide
    )


def test_get_by_name_and_latest(history: History) -> None:
    document = json.loads(cli(history, "get", history.parameters, "-o", "json").stdout)
    assert document["metadata"]["name"] == history.parameters
    assert document["status"]["phase"] == "Succeeded"
    assert {n["displayName"] for n in document["status"]["nodes"].values()} >= {"write", "read"}

    latest = yaml.safe_load(cli(history, "get", "@latest", "-o", "yaml").stdout)
    assert latest["metadata"]["name"] == history.exit_handler
    assert latest["status"]["phase"] == "Failed"

    shown = cli(history, "get", "@latest")
    assert shown.returncode == 0, shown.stderr
    assert re.search(rf"^Name:\s+{history.exit_handler}\s*$", shown.stdout, re.MULTILINE), shown.stdout
    assert re.search(r"^Status:\s+Failed\s*$", shown.stdout, re.MULTILINE)
    assert re.search(r"✖ fail\s+fail\s+\S+-fail-\d+\s", shown.stdout), shown.stdout
    assert re.search(rf"✔ {history.exit_handler}\.onExit\s", shown.stdout), shown.stdout

    params = cli(history, "get", history.parameters).stdout
    assert re.search(r"^\s+message:\s+bonjour\s*$", params, re.MULTILINE), params
    assert re.search(r"^\s+written-message:\s+bonjour\s*$", params, re.MULTILINE), params


def test_get_unknown_workflow_fails(history: History) -> None:
    result = cli(history, "get", "no-such-workflow")
    assert result.returncode == 1
    assert 'workflow "no-such-workflow" not found' in result.stderr


def test_logs_prefix_lines_with_pod_names(history: History) -> None:
    result = cli(history, "logs", "@latest")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    name = history.exit_handler
    assert any(re.fullmatch(rf"{name}-work-\d+: working", line) for line in lines), lines
    assert any(re.fullmatch(rf"{name}-fail-\d+: about to fail", line) for line in lines), lines
    assert any(
        re.fullmatch(rf"{name}-notify-\d+: workflow {name} ended Failed with 2 failed node\(s\)", line)
        for line in lines
    )
    assert lines.index(next(x for x in lines if "working" in x)) < lines.index(
        next(x for x in lines if "about to fail" in x)
    ), "logs are in the order the steps started"

    shout = cli(history, "logs", history.parameters).stdout.splitlines()
    assert any(re.fullmatch(rf"{history.parameters}-shout-\d+: BONJOUR!", line) for line in shout), shout
