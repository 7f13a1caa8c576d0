"""The container executor's pure parts: resource quantities as ``run`` flags, and paths resolved inside
a container's root filesystem (symlinks included) without leaving it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from workflow_runtime.executors.base import ExecutorError
from workflow_runtime.executors.container.engine import resolve_in_root
from workflow_runtime.executors.container.resources import quantity, resource_flags


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", 0.5),
        ("1.5", 1.5),
        ("2", 2.0),
        ("64Mi", 64 * 2**20),
        ("1G", 1e9),
        ("1e3", 1000.0),
        (".5", 0.5),
    ],
)
def test_quantities(text: str, value: float) -> None:
    assert quantity(text) == value


def test_resource_flags() -> None:
    assert resource_flags({"cpu": "250m", "memory": "1Gi", "nvidia.com/gpu": "1"}) == [
        "--cpus",
        "0.25",
        "--memory",
        str(2**30),
    ]
    assert resource_flags({}) == []
    with pytest.raises(ExecutorError, match=r"resources\.limits\.cpu: invalid quantity '-1'"):
        resource_flags({"cpu": "-1"})


def test_resolve_in_root_follows_symlinks_inside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "usr" / "bin" / "tool").write_text("x")
    (root / "etc").mkdir()
    (root / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    os.symlink("usr/bin", root / "bin")
    os.symlink("/usr/bin/tool", root / "absolute")
    os.symlink("../../../../../etc/passwd", root / "usr" / "escape")
    os.symlink("loop", root / "loop")
    assert resolve_in_root(str(root), "/bin/tool") == str(root / "usr" / "bin" / "tool")
    assert resolve_in_root(str(root), "/absolute") == str(root / "usr" / "bin" / "tool")
    assert resolve_in_root(str(root), "/usr/escape") == str(root / "etc" / "passwd")  # clamped at /
    assert resolve_in_root(str(root), "/../usr/./bin/") == str(root / "usr" / "bin")
    assert resolve_in_root(str(root), "/nope") is None
    assert resolve_in_root(str(root), "/bin/tool/below") is None
    assert resolve_in_root(str(root), "/loop") is None
