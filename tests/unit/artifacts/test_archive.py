"""Argo's artifact archives: a gzip'd tar whose single top entry is the artifact, unpacked under the
input's path; several top entries unpack into a directory; entries escaping the target are refused."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from workflow_runtime.artifacts.archive import compression_level, is_tarball, pack, unpack
from workflow_runtime.artifacts.repository import ArtifactError


def tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): ("->" + str(p.readlink()) if p.is_symlink() else p.read_text())
        for p in sorted(root.rglob("*"))
        if p.is_symlink() or p.is_file()
    }


def test_a_file_round_trips_under_the_inputs_name(tmp_path: Path) -> None:
    source = tmp_path / "hello_world.txt"
    source.write_text("hello world\n")
    archive = tmp_path / "hello-art.tgz"
    pack(source, "hello_world.txt", archive)
    with tarfile.open(archive, "r:gz") as tar:
        assert tar.getnames() == ["hello_world.txt"]
    unpack(archive, tmp_path / "message")
    assert (tmp_path / "message").read_text() == "hello world\n"


def test_a_directory_round_trips_with_nested_files_and_links(tmp_path: Path) -> None:
    source = tmp_path / "out"
    (source / "sub").mkdir(parents=True)
    (source / "a.txt").write_text("a")
    (source / "sub" / "b.txt").write_text("b")
    (source / "link").symlink_to("a.txt")
    archive = tmp_path / "out.tgz"
    pack(source, "out", archive)
    unpack(archive, tmp_path / "in")
    assert tree(tmp_path / "in") == {"a.txt": "a", "link": "->a.txt", "sub/b.txt": "b"}


def test_several_top_entries_unpack_into_a_directory(tmp_path: Path) -> None:
    archive = tmp_path / "many.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        for name in ("x", "y"):
            data = name.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    unpack(archive, tmp_path / "dest")
    assert tree(tmp_path / "dest") == {"x": "x", "y": "y"}


def test_entries_outside_the_target_are_refused(tmp_path: Path) -> None:
    archive = tmp_path / "evil.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("../escaped")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(ArtifactError):
        unpack(archive, tmp_path / "dest" / "in")
    assert not (tmp_path / "dest" / "escaped").exists()
    assert not (tmp_path / "escaped").exists()


def test_compression_level_follows_argo() -> None:
    assert compression_level(None) == compression_level(-1) == 6
    assert compression_level(0) == 0
    assert compression_level(9) == 9
    with pytest.raises(ArtifactError, match="compressionLevel"):
        compression_level(10)


def test_uncompressed_tar_level_zero_still_a_tarball(tmp_path: Path) -> None:
    source = tmp_path / "f"
    source.write_bytes(b"0" * 10_000)
    stored, squeezed = tmp_path / "0.tgz", tmp_path / "9.tgz"
    pack(source, "f", stored, level=0)
    pack(source, "f", squeezed, level=9)
    assert stored.stat().st_size > 10_000 > squeezed.stat().st_size
    assert is_tarball(stored) and is_tarball(squeezed)


def test_is_tarball_only_for_gzipped_tars_with_an_entry(tmp_path: Path) -> None:
    text = tmp_path / "plain.txt"
    text.write_text("not an archive")
    empty = tmp_path / "empty.tgz"
    with tarfile.open(empty, "w:gz"):
        pass
    assert not is_tarball(text)
    assert not is_tarball(empty)
    assert not is_tarball(tmp_path)
