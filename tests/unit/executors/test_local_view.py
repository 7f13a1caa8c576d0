"""Reading a finished step's view from its upper dir and the host (the overlay's lower layer).

The lower layer is the host's root, so lower content lives in a scratch dir under /var/tmp (not /tmp:
the view maps /tmp to the step's own directory).  Whiteouts and opaque markers need root.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from workflow_runtime.executors.local.layout import StepPaths
from workflow_runtime.executors.local.view import StepView

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="whiteouts and trusted xattrs need root")


@pytest.fixture
def lower() -> Iterator[str]:
    base = tempfile.mkdtemp(prefix="tf-view-", dir="/var/tmp")
    yield base
    shutil.rmtree(base)


@pytest.fixture
def paths(tmp_path: Path) -> StepPaths:
    paths = StepPaths(str(tmp_path), "uid/pod")
    os.makedirs(paths.upper)
    paths.make_tmp()
    return paths


def write(path: str, content: str = "") -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Path(path).write_text(content)


def whiteout(path: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(0, 0))


def make_opaque(directory: str) -> None:
    os.makedirs(directory, exist_ok=True)
    os.setxattr(directory, "trusted.overlay.opaque", b"y")


def test_upper_wins_lower_shows_through_whiteouts_delete(paths: StepPaths, lower: str) -> None:
    write(f"{lower}/kept", "lower")
    write(f"{lower}/changed", "lower")
    write(f"{paths.upper}{lower}/changed", "upper")
    write(f"{lower}/deleted", "lower")
    whiteout(f"{paths.upper}{lower}/deleted")
    view = StepView(paths, isolated=True)
    assert view.read_file(f"{lower}/kept") == b"lower"
    assert view.read_file(f"{lower}/changed") == b"upper"
    assert view.read_file(f"{lower}/deleted") is None
    assert view.read_file(f"{lower}/never") is None
    assert view.read_file(lower) is None  # a directory is not a file


def test_opaque_dir_hides_the_lower_one(paths: StepPaths, lower: str) -> None:
    write(f"{lower}/dir/old", "lower")
    make_opaque(f"{paths.upper}{lower}/dir")
    write(f"{paths.upper}{lower}/dir/new", "upper")
    view = StepView(paths, isolated=True)
    assert view.read_file(f"{lower}/dir/old") is None
    assert view.read_file(f"{lower}/dir/new") == b"upper"
    assert view.materialize(f"{lower}/dir") == Path(f"{paths.upper}{lower}/dir")


def test_upper_file_replacing_a_directory_hides_its_children(paths: StepPaths, lower: str) -> None:
    write(f"{lower}/dir/child", "lower")
    write(f"{paths.upper}{lower}/dir", "now a file")
    view = StepView(paths, isolated=True)
    assert view.read_file(f"{lower}/dir/child") is None
    assert view.read_file(f"{lower}/dir") == b"now a file"


def test_tmp_is_the_steps_own(paths: StepPaths, tmp_path: Path) -> None:
    write(f"{paths.tmp}/message", "mine")
    (tmp_path / "host-file").write_text("host")
    view = StepView(paths, isolated=True)
    assert view.read_file("/tmp/message") == b"mine"
    assert view.read_file(str(tmp_path / "host-file")) is None  # the host's /tmp is not in the view
    assert view.materialize("/tmp") == Path(paths.tmp)


def test_symlinks_resolve_inside_the_view(paths: StepPaths, lower: str) -> None:
    os.makedirs(f"{lower}/real")
    os.symlink("real", f"{lower}/relative")
    write(f"{paths.upper}{lower}/real/file", "upper")
    os.symlink(f"{lower}/real/file", f"{paths.upper}{lower}/absolute")
    os.symlink("loop", f"{paths.upper}{lower}/loop")
    view = StepView(paths, isolated=True)
    assert view.read_file(f"{lower}/relative/file") == b"upper"
    assert view.read_file(f"{lower}/absolute") == b"upper"
    assert view.read_file(f"{lower}/real/../real/file") == b"upper"
    assert view.read_file(f"{lower}/loop") is None


def test_materialize_returns_the_top_layer_or_a_merged_copy(paths: StepPaths, lower: str) -> None:
    write(f"{lower}/only-lower/a", "a")
    write(f"{paths.upper}{lower}/only-upper/b", "b")
    write(f"{lower}/mixed/from-lower", "lower")
    write(f"{lower}/mixed/overridden", "lower")
    write(f"{lower}/mixed/removed", "lower")
    write(f"{lower}/mixed/sub/deep-lower", "lower")
    write(f"{paths.upper}{lower}/mixed/overridden", "upper")
    write(f"{paths.upper}{lower}/mixed/sub/deep-upper", "upper")
    whiteout(f"{paths.upper}{lower}/mixed/removed")
    os.symlink("from-lower", f"{paths.upper}{lower}/mixed/link")
    view = StepView(paths, isolated=True)

    assert view.materialize(f"{lower}/only-lower") == Path(f"{lower}/only-lower")
    assert view.materialize(f"{lower}/only-upper") == Path(f"{paths.upper}{lower}/only-upper")
    assert view.materialize(f"{lower}/only-upper/b") == Path(f"{paths.upper}{lower}/only-upper/b")
    assert view.materialize(f"{lower}/missing") is None

    merged = view.materialize(f"{lower}/mixed")
    assert merged == Path(paths.merged + lower + "/mixed")
    files = {str(p.relative_to(merged)): p for p in merged.rglob("*")}
    assert sorted(files) == ["from-lower", "link", "overridden", "sub", "sub/deep-lower", "sub/deep-upper"]
    assert files["overridden"].read_text() == "upper"
    assert files["from-lower"].read_text() == "lower"
    assert os.readlink(files["link"]) == "from-lower"
    assert view.materialize(f"{lower}/mixed") == merged  # again: replaced, not nested


def test_without_isolation_the_view_is_the_host(paths: StepPaths, lower: str) -> None:
    write(f"{lower}/file", "host")
    write(f"{paths.upper}{lower}/file", "ignored")
    view = StepView(paths, isolated=False)
    assert view.read_file(f"{lower}/file") == b"host"
    assert view.materialize(lower) == Path(lower)
