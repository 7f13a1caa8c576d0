"""The ``triggerfish`` CLI as a hub client, end to end: real CLI subprocesses against a real hub."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.api.conftest import (
    NS,
    container,
    create,
    echo,
    get,
    nodes_named,
    ok,
    requires_isolation,
    unique,
    wait_done,
    wait_node,
    workflow,
)
from tests.support.processes import HubServer, cli_env, run_cli

pytestmark = requires_isolation


@pytest.fixture
def cli(hub: HubServer) -> Any:
    def run(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return run_cli(list(args), env=env or cli_env(TRIGGERFISH_SERVER=hub.url))

    return run


def write(tmp_path: Path, manifest: dict[str, Any] | list[dict[str, Any]]) -> Path:
    path = tmp_path / f"{unique('manifest')}.yaml"
    docs = manifest if isinstance(manifest, list) else [manifest]
    path.write_text(yaml.safe_dump_all(docs))
    return path


def succeeded(result: subprocess.CompletedProcess[str], code: int = 0) -> str:
    assert result.returncode == code, (
        f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    return result.stdout


# ------------------------------------------------------------------------------------- submit, watch


def test_submit_prints_the_name(cli: Any, api: httpx.Client, tmp_path: Path) -> None:
    name = succeeded(cli("submit", write(tmp_path, workflow()))).strip()
    assert name.startswith("api-")
    assert wait_done(api, name)["status"]["phase"] == "Succeeded"


def test_submit_with_options_and_json_output(cli: Any, tmp_path: Path) -> None:
    manifest = workflow(
        templates=[echo("main"), echo("alt", "{{workflow.parameters.who}}")],
        arguments={"parameters": [{"name": "who", "value": "x"}]},
    )
    out = succeeded(
        cli(
            "submit",
            write(tmp_path, manifest),
            "-p",
            "who=ada",
            "--entrypoint",
            "alt",
            "-l",
            "a=b,c=d",
            "-o",
            "json",
        )
    )
    created = json.loads(out)
    assert created["spec"]["entrypoint"] == "alt"
    assert created["spec"]["arguments"]["parameters"] == [{"name": "who", "value": "ada"}]
    assert created["metadata"]["labels"]["a"] == "b" and created["metadata"]["labels"]["c"] == "d"


def test_submit_watch_shows_the_tree_and_exits_with_the_outcome(cli: Any, tmp_path: Path) -> None:
    steps = {
        "name": "main",
        "steps": [[{"name": "first", "template": "hello"}], [{"name": "second", "template": "hello"}]],
    }
    out = succeeded(cli("submit", write(tmp_path, workflow(templates=[steps, echo("hello")])), "--watch"))
    assert "Succeeded" in out and "first" in out and "second" in out and "✔" in out

    failing = workflow(templates=[container("main", "sh", "-c", "exit 3")])
    out = succeeded(cli("submit", write(tmp_path, failing), "--wait"), code=1)
    assert "Failed" in out


def test_submit_log_follows_the_output(cli: Any, tmp_path: Path) -> None:
    manifest = workflow(
        templates=[container("main", "sh", "-c", "for i in 1 2 3; do echo tick $i; sleep 0.2; done")]
    )
    out = succeeded(cli("submit", write(tmp_path, manifest), "--log"))
    assert [line.split(": ", 1)[1] for line in out.splitlines() if ": tick" in line] == [
        "tick 1",
        "tick 2",
        "tick 3",
    ]


def test_submit_from_a_template(cli: Any, api: httpx.Client, tmp_path: Path) -> None:
    name = unique("cli-wt")
    template = workflow(
        name,
        kind="WorkflowTemplate",
        templates=[echo("main", "{{workflow.parameters.msg}}")],
        arguments={"parameters": [{"name": "msg", "value": "default"}]},
    )
    assert (
        succeeded(cli("template", "create", write(tmp_path, template))).strip()
        == f"workflowtemplate/{name} created"
    )
    out = succeeded(
        cli("submit", "--from", f"workflowtemplate/{name}", "-p", "msg=from cli", "-l", "k=v", "-o", "json")
    )
    created = json.loads(out)
    assert created["metadata"]["labels"]["workflows.argoproj.io/workflow-template"] == name
    assert created["metadata"]["labels"]["k"] == "v"
    done = wait_done(api, created["metadata"]["name"])
    assert done["spec"]["arguments"]["parameters"] == [{"name": "msg", "value": "from cli"}]


def test_submit_errors(cli: Any, tmp_path: Path) -> None:
    bad = workflow(templates=[{"name": "main", "steps": [[{"name": "a", "template": "nope"}]]}])
    result = cli("submit", write(tmp_path, bad))
    assert result.returncode == 2 and "spec.templates[0].steps[0][0].template" in result.stderr
    result = cli("submit", "--from", "workflowtemplate/no-such-template")
    assert (
        result.returncode == 1
        and 'workflowtemplates.argoproj.io "no-such-template" not found' in result.stderr
    )
    assert cli("submit").returncode == 2
    assert cli("submit", write(tmp_path, workflow()), "-p", "novalue").returncode == 2
    unreachable = run_cli(
        ["submit", write(tmp_path, workflow()), "--server", "http://127.0.0.1:9"], env=cli_env()
    )
    assert unreachable.returncode == 1 and "cannot reach the hub" in unreachable.stderr


def test_watch_latest(cli: Any, api: httpx.Client) -> None:
    name = create(api, workflow(unique("watch"), templates=[container("main", "sleep", "1")]))["metadata"][
        "name"
    ]
    out = succeeded(cli("watch", "@latest"))
    assert name in out and "Succeeded" in out
    failing = create(api, workflow(templates=[container("main", "false")]))["metadata"]["name"]
    assert failing in succeeded(cli("watch", failing), code=1)


# ------------------------------------------------------------------------------------- list, get, logs


def test_list_and_get_against_the_hub(cli: Any, api: httpx.Client) -> None:
    label = unique("cli-list")
    names = [create(api, workflow(labels={"suite": label}))["metadata"]["name"] for _ in range(2)]
    for name in names:
        wait_done(api, name)
    assert succeeded(cli("list", "-l", f"suite={label}", "-o", "name")).split() == list(reversed(names))
    listed = json.loads(succeeded(cli("list", "-l", f"suite={label}", "--status", "Succeeded", "-o", "json")))
    assert {d["metadata"]["name"] for d in listed} == set(names)
    assert succeeded(cli("list", "-l", f"suite={label}", "--status", "Failed", "-o", "name")).strip() == ""
    table = succeeded(cli("list", "-l", f"suite={label}"))
    assert "NAME" in table and "STATUS" in table and names[0] in table

    document = json.loads(succeeded(cli("get", names[0], "-o", "json")))
    assert document["metadata"]["name"] == names[0] and document["status"]["nodes"]
    shown = succeeded(cli("get", names[0]))
    assert "Status:" in shown and "Succeeded" in shown
    missing = cli("get", "no-such-workflow")
    assert missing.returncode == 1 and 'workflows.argoproj.io "no-such-workflow" not found' in missing.stderr


def test_data_dir_reads_the_local_store_even_with_a_server(cli: Any, tmp_path: Path, hub: HubServer) -> None:
    out = succeeded(cli("list", "--data-dir", tmp_path / "empty", "-o", "json"))
    assert json.loads(out) == []


def test_logs_against_the_hub(cli: Any, api: httpx.Client) -> None:
    name = create(api, workflow(templates=[container("main", "sh", "-c", "echo one; echo two; echo three")]))[
        "metadata"
    ]["name"]
    wait_done(api, name)
    out = succeeded(cli("logs", name)).splitlines()
    assert out == [f"{name}: one", f"{name}: two", f"{name}: three"]
    assert succeeded(cli("logs", name, "--grep", "t", "--tail", "2")).splitlines() == [
        f"{name}: two",
        f"{name}: three",
    ]
    assert succeeded(cli("logs", name, name)).count(": ") == 3


def test_logs_follow(cli: Any, api: httpx.Client) -> None:
    script = "for i in 1 2 3; do echo beat $i; sleep 0.4; done"
    name = create(api, workflow(templates=[container("main", "sh", "-c", script)]))["metadata"]["name"]
    out = succeeded(cli("logs", name, "-f"))
    assert [line.split(": ", 1)[1] for line in out.splitlines()] == ["beat 1", "beat 2", "beat 3"]
    assert get(api, name)["status"]["phase"] == "Succeeded"


# ------------------------------------------------------------------------------------- lifecycle


def test_suspend_resume_stop_terminate(cli: Any, api: httpx.Client) -> None:
    steps = {
        "name": "main",
        "steps": [[{"name": "a", "template": "slow"}], [{"name": "b", "template": "slow"}]],
    }
    manifest = workflow(templates=[steps, container("slow", "sleep", "30"), echo("bye")])
    manifest["spec"]["onExit"] = "bye"
    name = create(api, manifest)["metadata"]["name"]
    wait_node(api, name, "a", "Running")
    assert succeeded(cli("suspend", name)).strip() == f"workflow {name} suspended"
    assert get(api, name)["spec"]["suspend"] is True
    assert succeeded(cli("resume", name)).strip() == f"workflow {name} resumed"
    assert "suspend" not in get(api, name)["spec"]
    assert succeeded(cli("stop", name)).strip() == f"workflow {name} stopped"
    done = wait_done(api, name)
    assert done["status"]["message"] == "Stopped with strategy 'Stop'"
    assert nodes_named(done)[f"{name}.onExit"]["phase"] == "Succeeded"

    other = create(api, manifest)["metadata"]["name"]
    wait_node(api, other, "a", "Running")
    assert succeeded(cli("terminate", "@latest")).strip() == f"workflow {other} terminated"
    assert wait_done(api, other)["status"]["message"] == "Stopped with strategy 'Terminate'"
    again = cli("terminate", other)
    assert again.returncode == 1 and "completed" in again.stderr


def test_resume_a_node_by_field_selector(cli: Any, api: httpx.Client) -> None:
    tasks = [{"name": "a", "template": "gate"}, {"name": "b", "template": "gate"}]
    manifest = workflow(
        templates=[{"name": "main", "dag": {"tasks": tasks}}, {"name": "gate", "suspend": {}}]
    )
    name = create(api, manifest)["metadata"]["name"]
    wait_node(api, name, "b", "Running")
    succeeded(cli("resume", name, "--node-field-selector", "displayName=a"))
    assert nodes_named(wait_node(api, name, "a", "Succeeded"))["b"]["phase"] == "Running"
    succeeded(cli("stop", name, "--node-field-selector", "displayName=b", "--message", "no"))
    assert wait_done(api, name)["status"]["phase"] == "Failed"


def test_retry_and_resubmit(cli: Any, api: httpx.Client) -> None:
    manifest = workflow(templates=[container("main", "sh", "-c", '[ "{{workflow.parameters.ok}}" = yes ]')])
    manifest["spec"]["arguments"] = {"parameters": [{"name": "ok", "value": "no"}]}
    name = create(api, manifest)["metadata"]["name"]
    wait_done(api, name)
    resubmitted = succeeded(cli("resubmit", name, "--memoized", "-p", "ok=yes")).strip()
    assert resubmitted != name and resubmitted.startswith("api-"), "Argo reuses the generateName"
    assert wait_done(api, resubmitted)["status"]["phase"] == "Succeeded"
    assert succeeded(cli("retry", name, "-p", "ok=yes")).strip() == f"workflow {name} retried"
    assert wait_done(api, name)["status"]["phase"] == "Succeeded"
    refused = cli("retry", name)
    assert refused.returncode == 1 and "Failed/Error" in refused.stderr


def test_delete_workflows_and_manifests(cli: Any, api: httpx.Client, tmp_path: Path) -> None:
    name = create(api, workflow(unique("cli-delete")))["metadata"]["name"]
    wait_done(api, name)
    assert succeeded(cli("delete", name)).strip() == f"Workflow '{name}' deleted"
    assert api.get(f"/api/v1/workflows/{NS}/{name}").status_code == 404
    template = unique("cli-del-wt")
    succeeded(cli("template", "create", write(tmp_path, workflow(template, kind="WorkflowTemplate"))))
    assert (
        succeeded(cli("delete", "workflowtemplate", template)).strip()
        == f"workflowtemplate/{NS}/{template} deleted"
    )
    assert api.get(f"/api/v1/workflow-templates/{NS}/{template}").status_code == 404
    assert cli("delete", "gadget/x").returncode == 2


# ------------------------------------------------------------------------------------- templates and crons


def test_template_commands(cli: Any, api: httpx.Client, tmp_path: Path) -> None:
    name, cluster = unique("cli-wt"), unique("cli-cwt")
    docs = [workflow(name, kind="WorkflowTemplate"), workflow(cluster, kind="ClusterWorkflowTemplate")]
    out = succeeded(cli("template", "create", write(tmp_path, docs))).splitlines()
    assert out == [f"workflowtemplate/{name} created", f"clusterworkflowtemplate/{cluster} created"]
    assert name in succeeded(cli("template", "list", "-o", "name")).split()
    assert cluster in succeeded(cli("template", "list", "--cluster", "-o", "name")).split()
    assert "NAME" in succeeded(cli("template", "list"))
    assert yaml.safe_load(succeeded(cli("template", "get", name)))["metadata"]["name"] == name
    assert (
        json.loads(succeeded(cli("template", "get", cluster, "--cluster", "-o", "json")))["kind"]
        == "ClusterWorkflowTemplate"
    )
    exists = cli("template", "create", write(tmp_path, docs[0]))
    assert exists.returncode == 1 and "already exists" in exists.stderr
    succeeded(cli("template", "delete", name))
    succeeded(cli("template", "delete", cluster, "--cluster"))
    assert cli("template", "get", name).returncode == 1


def test_cron_commands(cli: Any, api: httpx.Client) -> None:
    name = unique("cli-cron")
    cron = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "CronWorkflow",
        "metadata": {"name": name},
        "spec": {
            "schedule": "0 3 * * *",
            "timezone": "UTC",
            "workflowSpec": {"entrypoint": "main", "templates": [echo("main")]},
        },
    }
    ok(api.post(f"/api/v1/cron-workflows/{NS}", json={"cronWorkflow": cron}))
    table = succeeded(cli("cron", "list"))
    row = next(line for line in table.splitlines() if name in line)
    assert "0 3 * * *" in row and row.split()[-1] == "false"
    assert succeeded(cli("cron", "suspend", name)).strip() == f"CronWorkflow '{name}' suspended"
    assert json.loads(succeeded(cli("cron", "get", name, "-o", "json")))["spec"]["suspend"] is True
    assert succeeded(cli("cron", "resume", name)).strip() == f"CronWorkflow '{name}' resumed"
    assert json.loads(succeeded(cli("cron", "list", "-o", "json")))[0]["kind"] == "CronWorkflow"
    assert cli("cron", "suspend", "no-such-cron").returncode == 1


# ------------------------------------------------------------------------------------- token


class _Recorder(BaseHTTPRequestHandler):
    seen: list[str | None] = []

    def do_GET(self) -> None:
        _Recorder.seen.append(self.headers.get("Authorization"))
        body = b'{"metadata": {}, "items": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        return


@pytest.fixture
def recorder() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Recorder.seen.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_token_is_sent_as_a_bearer_token(recorder: str) -> None:
    succeeded(run_cli(["list", "--server", recorder, "--token", "s3cret", "-o", "name"], env=cli_env()))
    succeeded(
        run_cli(
            ["template", "list", "-o", "name"],
            env=cli_env(TRIGGERFISH_SERVER=recorder, TRIGGERFISH_TOKEN="from-env"),
        )
    )
    succeeded(run_cli(["list", "--server", recorder, "-o", "name"], env=cli_env()))
    assert _Recorder.seen == ["Bearer s3cret", "Bearer from-env", None]
