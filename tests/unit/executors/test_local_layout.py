from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from workflow_runtime.executors.local.layout import StepPaths, check_step_key, read_json, write_json_atomic
from workflow_runtime.executors.local.protocol import MAX_LINE, LineDecoder, encode


@pytest.mark.parametrize("key", ["wf-uid/pod-1", "0a1b2c3d-4e5f/my.pod_2", "A/B"])
def test_valid_step_keys(key: str) -> None:
    check_step_key(key)


@pytest.mark.parametrize("key", ["pod", "a/b/c", "../b", "a/..", "a/.hidden", "/a/b", "a/b c", "a/", "a/b\n"])
def test_invalid_step_keys(key: str) -> None:
    with pytest.raises(ValueError, match="invalid step key"):
        check_step_key(key)


def test_step_paths_live_under_the_root() -> None:
    paths = StepPaths("/srv/tf", "uid/pod")
    assert paths.dir == "/srv/tf/steps/uid/pod"
    assert paths.exit == "/srv/tf/steps/uid/pod/exit.json"
    assert paths.stdout == "/srv/tf/steps/uid/pod/stdout.log"


def test_staging_paths_follow_the_view() -> None:
    paths = StepPaths("/srv/tf", "uid/pod")
    assert paths.staging_path("/argo/staging/script", isolated=True) == paths.upper + "/argo/staging/script"
    assert paths.staging_path("/tmp/in/a.txt", isolated=True) == paths.tmp + "/in/a.txt"
    assert paths.staging_path("/tmpfile", isolated=True) == paths.upper + "/tmpfile"
    assert paths.staging_path("/tmp/in/a.txt", isolated=False) == "/tmp/in/a.txt"
    for bad in ("relative/x", "/a/../etc/passwd", "/a//b"):
        with pytest.raises(ValueError, match="absolute and normalised"):
            paths.staging_path(bad, isolated=True)


def test_make_tmp_is_sticky_and_world_writable(tmp_path: Path) -> None:
    paths = StepPaths(str(tmp_path), "uid/pod")
    os.makedirs(paths.dir)
    paths.make_tmp()
    paths.make_tmp()  # idempotent
    assert stat.S_IMODE(os.stat(paths.tmp).st_mode) == 0o1777


def test_json_records_round_trip_and_torn_ones_read_as_missing(tmp_path: Path) -> None:
    path = str(tmp_path / "exit.json")
    assert read_json(path) is None
    write_json_atomic(path, {"exit_code": 3})
    assert read_json(path) == {"exit_code": 3}
    assert not os.path.exists(path + ".tmp")
    Path(path).write_bytes(b'{"exit_co')
    assert read_json(path) is None
    Path(path).write_bytes(b"[1]")
    assert read_json(path) is None


def test_line_decoder_reassembles_messages_split_anywhere() -> None:
    decoder = LineDecoder()
    data = encode({"id": 1, "op": "hello"}) + b"\n" + encode({"ev": "exit", "key": "a/b"})
    received = [message for i in range(len(data)) for message in decoder.feed(data[i : i + 1])]
    assert received == [{"id": 1, "op": "hello"}, {"ev": "exit", "key": "a/b"}]


def test_line_decoder_splits_many_messages_in_one_chunk() -> None:
    decoder = LineDecoder()
    chunk = b"".join(encode({"id": i}) for i in range(5))
    assert decoder.feed(chunk + b'{"id"') == [{"id": i} for i in range(5)]
    assert decoder.feed(b": 5}\n") == [{"id": 5}]


def test_line_decoder_refuses_endless_lines() -> None:
    decoder = LineDecoder()
    with pytest.raises(ValueError, match="longer than"):
        decoder.feed(b"x" * (MAX_LINE + 1))


def test_line_decoder_refuses_non_objects() -> None:
    with pytest.raises(ValueError, match="JSON objects"):
        LineDecoder().feed(b"[1, 2]\n")
