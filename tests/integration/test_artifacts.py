"""Artifacts end to end on a real executor: steps write and read files, the hub archives, stores and
fetches them through the local-directory repository (the embedded default), a named repository, and a
real HTTP server. S3 (MinIO) is in ``test_artifacts_s3.py``."""

from __future__ import annotations

import http.server
import tarfile
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.support.event_hub import needs_isolation
from tests.support.workflow_hub import (
    EXECUTORS,
    Finished,
    executor_ready,
    run_workflow,
    running_hub,
    sh,
    workflow,
)
from triggerfish.hub import Hub

pytestmark = [needs_isolation, pytest.mark.asyncio(loop_scope="module")]

NAMED = "artifact-repositories/custom"


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=EXECUTORS)
async def hub(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Hub]:
    data_dir = tmp_path_factory.mktemp("artifacts")
    custom = {"local_dir": str(data_dir / "custom"), "key_format": "runs/{{workflow.name}}/{{pod.name}}"}
    with executor_ready(request.param) as kind:
        async with running_hub(data_dir, kind, artifact_repositories={NAMED: custom}) as hub:
            yield hub


def repository(hub: Hub) -> Path:
    return hub.settings.data_dir / "artifacts"


def saved(finished: Finished, node: str) -> dict[str, dict[str, Any]]:
    outputs = finished.node(node).outputs or {}
    return {art["name"]: art for art in outputs.get("artifacts") or []}


def script(name: str, source: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "script": {"image": "busybox", "command": ["sh"], "source": source}, **fields}


async def test_outputs_pass_to_inputs_archived_unarchived_and_by_sub_path(hub: Hub) -> None:
    produce = sh(
        "produce",
        "echo hello > /tmp/hello.txt; mkdir -p /tmp/tree/sub; echo a > /tmp/tree/a.txt; "
        "echo b > /tmp/tree/sub/b.txt",
        outputs={
            "artifacts": [
                {"name": "file", "path": "/tmp/hello.txt"},
                {"name": "tree", "path": "/tmp/tree", "archive": {"none": {}}},
            ]
        },
    )
    consume = script(
        "consume",
        "cat /tmp/in/hello.txt; stat -c %a /tmp/in/hello.txt; cat /mnt/tree/a.txt /mnt/tree/sub/b.txt;"
        " cat /tmp/leaf.txt",
        inputs={
            "artifacts": [
                {"name": "file", "path": "/tmp/in/hello.txt", "mode": 0o600},
                {"name": "tree", "path": "/mnt/tree"},
                {"name": "leaf", "path": "/tmp/leaf.txt"},
            ]
        },
    )
    reference = "{{steps.produce.outputs.artifacts.%s}}"
    main = {
        "name": "main",
        "steps": [
            [{"name": "produce", "template": "produce"}],
            [
                {
                    "name": "consume",
                    "template": "consume",
                    "arguments": {
                        "artifacts": [
                            {"name": "file", "from": reference % "file"},
                            {"name": "tree", "from": reference % "tree"},
                            {"name": "leaf", "from": reference % "tree", "subPath": "sub/b.txt"},
                        ]
                    },
                },
            ],
        ],
    }
    finished = await run_workflow(hub, workflow([main, produce, consume]))
    assert finished.phase == "Succeeded", finished.message
    assert finished.stdout(hub.executor, "consume").strip().split() == ["hello", "600", "a", "b", "b"]

    stored = saved(finished, "produce")
    file_key, tree_key = stored["file"]["s3"]["key"], stored["tree"]["s3"]["key"]
    workflow_name, pod, file_name = file_key.split("/")  # the default keyFormat, then <name>.tgz
    assert (workflow_name, file_name) == (finished.name, "file.tgz") and pod.startswith(finished.name)
    assert tree_key == f"{workflow_name}/{pod}/tree"
    with tarfile.open(repository(hub) / file_key) as tar:
        assert tar.getnames() == ["hello.txt"]
    assert (repository(hub) / tree_key / "sub" / "b.txt").read_text() == "b\n"


async def test_raw_inputs_key_only_artifacts_and_global_outputs(hub: Hub) -> None:
    key = "shared/{{workflow.name}}/upper.txt"
    writer = script(
        "writer",
        "tr a-z A-Z < /tmp/note.txt > /tmp/upper.txt",
        inputs={"artifacts": [{"name": "note", "path": "/tmp/note.txt", "raw": {"data": "raw text\n"}}]},
        outputs={
            "artifacts": [
                {
                    "name": "upper",
                    "path": "/tmp/upper.txt",
                    "globalName": "shouted",
                    "archive": {"none": {}},
                    "s3": {"key": key},
                }
            ]
        },
    )
    reader = script(
        "reader",
        "cat /tmp/u.txt",
        inputs={"artifacts": [{"name": "u", "path": "/tmp/u.txt", "s3": {"key": key}}]},
    )
    main = {
        "name": "main",
        "steps": [[{"name": "write", "template": "writer"}], [{"name": "read", "template": "reader"}]],
    }
    finished = await run_workflow(hub, workflow([main, writer, reader]))
    assert finished.phase == "Succeeded", finished.message
    assert finished.stdout(hub.executor, "read").strip() == "RAW TEXT"
    stored_key = f"shared/{finished.name}/upper.txt"
    assert (repository(hub) / stored_key).read_text() == "RAW TEXT\n"
    (shouted,) = finished.outputs["artifacts"]
    assert shouted["name"] == "shouted" and shouted["s3"] == {"key": stored_key}


async def test_optional_artifacts_may_be_absent_required_ones_may_not(hub: Hub) -> None:
    maybe = sh("maybe", "true", outputs={"artifacts": [{"name": "x", "path": "/tmp/x", "optional": True}]})
    use = script(
        "use",
        "test -e /tmp/x && echo present || echo absent",
        inputs={"artifacts": [{"name": "x", "path": "/tmp/x", "optional": True}]},
    )
    main = {
        "name": "main",
        "steps": [
            [{"name": "maybe", "template": "maybe"}],
            [
                {
                    "name": "use",
                    "template": "use",
                    "arguments": {
                        "artifacts": [{"name": "x", "from": "{{steps.maybe.outputs.artifacts.x}}"}]
                    },
                }
            ],
        ],
    }
    finished = await run_workflow(hub, workflow([main, maybe, use]))
    assert finished.phase == "Succeeded", finished.message
    assert saved(finished, "maybe") == {}
    assert finished.stdout(hub.executor, "use").strip() == "absent"

    required = sh("main", "true", outputs={"artifacts": [{"name": "x", "path": "/tmp/missing"}]})
    failed = await run_workflow(hub, workflow([required]))
    assert failed.phase == "Error"
    assert "open /tmp/missing: no such file or directory" in failed.node(failed.name).message


class _Store(http.server.BaseHTTPRequestHandler):
    """GET and PUT of whole bodies, kept in the server's ``objects`` (a real HTTP server for tests)."""

    server: _HttpStore

    def do_GET(self) -> None:
        body = self.server.objects.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def do_PUT(self) -> None:
        self.server.objects[self.path] = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.headers[self.path] = dict(self.headers)
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


class _HttpStore(http.server.ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Store)
        self.objects: dict[str, bytes] = {}
        self.headers: dict[str, dict[str, str]] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture(scope="module")
def http_store() -> Iterator[_HttpStore]:
    server = _HttpStore()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


async def test_http_inputs_and_outputs(hub: Hub, http_store: _HttpStore, tmp_path: Path) -> None:
    http_store.objects["/in/data.txt"] = b"over http\n"
    base = http_store.url
    step = script(
        "main",
        "cat /tmp/data.txt > /tmp/copy.txt; test -e /tmp/absent || echo skipped; mkdir /tmp/dir; "
        "echo x > /tmp/dir/x",
        inputs={
            "artifacts": [
                {"name": "data", "path": "/tmp/data.txt", "http": {"url": f"{base}/in/data.txt"}},
                {"name": "absent", "path": "/tmp/absent", "optional": True, "http": {"url": f"{base}/nope"}},
            ]
        },
        outputs={
            "artifacts": [
                {
                    "name": "copy",
                    "path": "/tmp/copy.txt",
                    "archive": {"none": {}},
                    "http": {"url": f"{base}/out/copy.txt", "headers": [{"name": "X-Run", "value": "1"}]},
                },
                {"name": "dir", "path": "/tmp/dir", "http": {"url": f"{base}/out/dir.tgz"}},
            ]
        },
    )
    finished = await run_workflow(hub, workflow([step]))
    assert finished.phase == "Succeeded", finished.message
    assert finished.stdout(hub.executor, finished.name).strip() == "skipped"
    assert http_store.objects["/out/copy.txt"] == b"over http\n"
    assert http_store.headers["/out/copy.txt"]["X-Run"] == "1"
    (tmp_path / "dir.tgz").write_bytes(http_store.objects["/out/dir.tgz"])
    with tarfile.open(tmp_path / "dir.tgz") as tar:
        assert sorted(tar.getnames()) == ["dir", "dir/x"]

    missing = sh(
        "main",
        "true",
        inputs={"artifacts": [{"name": "gone", "path": "/tmp/g", "http": {"url": f"{base}/gone"}}]},
    )
    failed = await run_workflow(hub, workflow([missing]))
    assert failed.phase == "Error"
    assert "artifact gone failed to load" in failed.message + failed.node(failed.name).message
    assert "404" in failed.node(failed.name).message


async def test_named_repository_key_format_and_archived_logs(hub: Hub) -> None:
    step = sh(
        "main",
        "echo logged line; echo on stderr >&2; echo out > /tmp/out",
        outputs={"artifacts": [{"name": "out", "path": "/tmp/out"}]},
    )
    finished = await run_workflow(
        hub, workflow([step], archiveLogs=True, artifactRepositoryRef={"key": "custom"})
    )
    assert finished.phase == "Succeeded", finished.message
    stored = saved(finished, finished.name)
    logs_key = stored["main-logs"]["s3"]["key"]
    runs, workflow_name, pod, log_name = logs_key.split("/")
    assert (runs, workflow_name, log_name) == ("runs", finished.name, "main.log")
    custom = hub.settings.data_dir / "custom"
    assert (custom / logs_key).read_text() == "logged line\non stderr\n"
    assert stored["out"]["s3"]["key"] == f"runs/{workflow_name}/{pod}/out.tgz"
    assert (custom / stored["out"]["s3"]["key"]).is_file()
    assert not (repository(hub) / finished.name).exists()

    unknown = await run_workflow(hub, workflow([step], artifactRepositoryRef={"key": "nope"}))
    assert unknown.phase == "Error"
    assert "artifactRepositoryRef" in unknown.node(unknown.name).message


async def test_dag_from_expression_and_recursive_mode(hub: Hub) -> None:
    make = sh(
        "make",
        "mkdir -p /tmp/d/sub; echo secret > /tmp/d/sub/key",
        outputs={"artifacts": [{"name": "d", "path": "/tmp/d", "archive": {"tar": {"compressionLevel": 9}}}]},
    )
    show = script(
        "show",
        "stat -c %a /tmp/in /tmp/in/sub /tmp/in/sub/key; cat /tmp/in/sub/key",
        inputs={"artifacts": [{"name": "d", "path": "/tmp/in", "mode": 0o700, "recurseMode": True}]},
    )
    expression = "tasks.make.status == 'Succeeded' ? tasks.make.outputs.artifacts.d : nil"
    main = {
        "name": "main",
        "dag": {
            "tasks": [
                {"name": "make", "template": "make"},
                {
                    "name": "show",
                    "template": "show",
                    "depends": "make",
                    "arguments": {"artifacts": [{"name": "d", "fromExpression": expression}]},
                },
            ]
        },
    }
    finished = await run_workflow(hub, workflow([main, make, show]))
    assert finished.phase == "Succeeded", finished.message
    assert finished.stdout(hub.executor, "show").split() == ["700", "700", "700", "secret"]
