#!/usr/bin/env python3
"""Build the stand-in images that Argo manifests name, for podman or docker, without a registry.

No image registry is reachable from this machine kind, so each image's root filesystem is made from
what the host has installed, and imported (``<engine> import``) under the names manifests use:

* ``busybox``, ``alpine``: Debian's busybox-static and its applets.
* ``python``, ``argoproj/argosay:v1``/``v2``, ``docker/whalesay``, ``debian``, ``ubuntu``: the files of the
  host's own Debian packages for ``python3`` and ``bash`` and their dependency closure (read from
  dpkg's database, so exactly what Debian installs, minus maintainer scripts), plus the busybox applets
  and the ``argosay``/``cowsay`` stand-ins of workflow_runtime/executors/argosay.py.  That takes about
  2 s with no network; a debootstrap of the same took 76-94 s of downloads on this machine kind.
* ``node``: the same plus the host's ``nodejs`` package, when it is installed (else no node image).

Every image has the host's ``/etc/os-release``, which steps print to show the system they run on.

Reruns are cheap: the images carry a hash of everything they are made from (this file, the busybox
binary, argosay.py, the package versions) as the tag of ``localhost/triggerfish/stamp``, and an engine
that has that tag is left alone (one ``image inspect``).

    usage: build.py podman|docker [--docker-host unix:///path/docker.sock]
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ARGOSAY = REPO / "workflow_runtime" / "executors" / "argosay.py"
BUSYBOX = Path("/bin/busybox")
ROOTFS_PACKAGES = {"busybox": (), "python": ("python3", "bash"), "node": ("python3", "bash", "nodejs")}
"""The Debian packages (with their dependencies) of each root filesystem, besides busybox's applets."""
OPTIONAL_ROOTFS = frozenset({"node"})
"""Root filesystems left out, with their images, when their packages are not installed."""
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
UNUSED = ("/usr/share/doc", "/usr/share/man", "/usr/share/locale", "/usr/share/info", "/usr/lib/node_modules")
LOCK = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "triggerfish" / "images.lock"

SCRIPT = """#!/usr/bin/python3
import sys
sys.path.insert(0, "/usr/local/lib/triggerfish")
from argosay import {function}
sys.exit({function}())
"""


@dataclass(frozen=True)
class Image:
    rootfs: str
    """A key of ROOTFS_PACKAGES."""
    config: tuple[str, ...]
    """Dockerfile instructions for ``import --change``."""
    names: tuple[str, ...]


ALPINE_TAGS = ("latest", "3", "3.6", "3.7", "3.18", "3.19", "3.20", "3.21", "3.22", "3.23")
DEBIAN_TAGS = ("latest", "12", "bookworm", "8.9", "9.1", "9.2", "9.4", "9.5-slim")
PYTHON_TAGS = ("latest", "3", "3.9", "3.10", "3.11", "3.12", "3.13", "alpine", "alpine3.23", "3-alpine")
IMAGES = (
    Image(
        "busybox",
        ('CMD ["sh"]',),
        ("busybox", "busybox:1", "busybox:1.36", *(f"alpine:{tag}" for tag in ALPINE_TAGS)),
    ),
    Image("python", ('CMD ["python3"]',), tuple(f"python:{tag}" for tag in PYTHON_TAGS)),
    Image("python", ('ENTRYPOINT ["/argosay"]',), ("argoproj/argosay:v2",)),
    Image("python", ('CMD ["cowsay"]',), ("argoproj/argosay:v1",)),
    Image(
        "python",
        ('CMD ["/bin/bash"]',),
        (
            "docker/whalesay",
            "ubuntu",
            "ubuntu:17.10",
            "ubuntu:22.04",
            *(f"debian:{tag}" for tag in DEBIAN_TAGS),
        ),
    ),
    Image("node", ('CMD ["node"]',), ("node", "node:9.1-alpine", "node:20", "node:lts")),
)


def qualified(name: str) -> str:
    """Docker Hub's full name, which both engines resolve short names to (``busybox`` →
    ``docker.io/library/busybox:latest``); podman would otherwise file a plain tag under ``localhost/``."""
    repository, _, tag = name.partition(":")
    prefix = "docker.io/library/" if "/" not in repository else "docker.io/"
    return f"{prefix}{repository}:{tag or 'latest'}"


# ------------------------------------------------------------------------------------------ rootfs


def package_closure(roots: tuple[str, ...]) -> dict[str, str]:
    """Installed packages that ``roots`` need (Depends and Pre-Depends, recursively): name → version."""
    fields = "${Package}\t${db:Status-Abbrev}\t${Version}\t${Depends}, ${Pre-Depends}\t${Provides}\n"
    listing = subprocess.run(
        ["dpkg-query", "-W", f"-f={fields}"], capture_output=True, text=True, check=True
    ).stdout
    depends: dict[str, str] = {}
    versions: dict[str, str] = {}
    providers: dict[str, str] = {}
    for line in listing.splitlines():
        name, status, version, needs, provides = line.split("\t")
        if not status.startswith("ii"):
            continue
        depends[name], versions[name] = needs, version
        for virtual in provides.split(","):
            providers.setdefault(virtual.strip().split(" ")[0], name)

    def installed(alternatives: str) -> str | None:
        for option in alternatives.split("|"):
            wanted = option.strip().split(" ")[0].split(":")[0]
            found = wanted if wanted in depends else providers.get(wanted)
            if found is not None:
                return found
        return None

    missing = [root for root in roots if root not in depends]
    if missing:
        sys.exit(f"build.py: install the Debian packages {' '.join(missing)} first")
    closure: dict[str, str] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in closure:
            continue
        closure[name] = versions[name]
        todo += [found for need in depends[name].split(",") if need.strip() and (found := installed(need))]
    return closure


def in_image(host_path: str) -> str:
    """Where a host path lands in the image: with the host's merged /usr (``/bin`` → ``/usr/bin``)."""
    directory, name = os.path.split(host_path)
    return os.path.join(os.path.realpath(directory), name).lstrip("/")


class RootfsTar:
    """A root filesystem written straight into a tar file, with merged-/usr symlinks like Debian 12."""

    def __init__(self, tar: tarfile.TarFile) -> None:
        self.tar = tar
        self.names: set[str] = set()
        for link in ("bin", "sbin", "lib", "lib64"):
            self.symlink(link, f"usr/{link}")
        for directory, mode in (("tmp", 0o1777), ("root", 0o700), ("etc", 0o755), ("usr/local/bin", 0o755)):
            self.directory(directory, mode)
        self.data("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
        self.data("etc/group", b"root:x:0:\n")

    def _add(self, info: tarfile.TarInfo, data: bytes | None = None) -> None:
        if info.name in self.names:
            return
        parent = os.path.dirname(info.name)
        if parent and parent not in self.names:
            self.directory(parent, 0o755)
        self.names.add(info.name)
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mtime = 0
        self.tar.addfile(info, io.BytesIO(data) if data is not None else None)

    def directory(self, name: str, mode: int) -> None:
        info = tarfile.TarInfo(name)
        info.type, info.mode = tarfile.DIRTYPE, mode
        self._add(info)

    def symlink(self, name: str, target: str) -> None:
        info = tarfile.TarInfo(name)
        info.type, info.linkname = tarfile.SYMTYPE, target
        self._add(info)

    def data(self, name: str, content: bytes, mode: int = 0o644) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(content), mode
        self._add(info, content)

    def host(self, path: str) -> None:
        """A host file, symlink or directory (not its content) at the same place in the image."""
        name = in_image(path)
        if not name or name in self.names or not os.path.lexists(path):
            return
        info = self.tar.gettarinfo(path, arcname=name)
        if info.isfile():
            with open(path, "rb") as f:
                self._add(info, f.read())
        elif info.isdir() or info.issym() or info.islnk():
            self._add(info)


def package_files(packages: dict[str, str]) -> Iterator[str]:
    """The files dpkg installed for the packages, plus the bytecode their maintainer scripts compiled."""
    listing = subprocess.run(
        ["dpkg-query", "-L", *sorted(packages)], capture_output=True, text=True, check=True
    ).stdout
    for path in listing.splitlines():
        if not path.startswith("/") or path.startswith(UNUSED):
            continue
        yield path
        cache = os.path.join(os.path.dirname(path), "__pycache__")
        if path.endswith(".py") and os.path.isdir(cache):
            stem = os.path.basename(path)[:-3] + "."
            yield cache
            yield from (os.path.join(cache, n) for n in os.listdir(cache) if n.startswith(stem))


def installed(package: str) -> bool:
    status = subprocess.run(
        ["dpkg-query", "-W", "-f=${db:Status-Abbrev}", package], capture_output=True, text=True, check=False
    )
    return status.stdout.startswith("ii")


def write_rootfs(packages: dict[str, str], target: Path) -> None:
    with tarfile.open(target, "w", format=tarfile.GNU_FORMAT) as tar:
        rootfs = RootfsTar(tar)
        for path in ("/usr/lib/os-release", "/etc/os-release"):
            rootfs.host(path)
        if packages:
            for path in package_files(packages):
                rootfs.host(path)
            rootfs.symlink("usr/bin/python", "python3")
            module = ARGOSAY.read_bytes()
            rootfs.data("usr/local/lib/triggerfish/argosay.py", module)
            for name, function in (("argosay", "main"), ("cowsay", "cowsay_main")):
                rootfs.data(f"usr/local/bin/{name}", SCRIPT.format(function=function).encode(), 0o755)
            rootfs.symlink("argosay", "usr/local/bin/argosay")
        rootfs.data("usr/bin/busybox", BUSYBOX.read_bytes(), 0o755)
        applets = subprocess.run([BUSYBOX, "--list-full"], capture_output=True, text=True, check=True).stdout
        for applet in applets.split():
            rootfs.symlink(in_image("/" + applet), "/usr/bin/busybox")  # package files win: added first


# ------------------------------------------------------------------------------------------ engines


class Engine:
    def __init__(self, name: str, docker_host: str | None) -> None:
        self.argv = [name, *(["-H", docker_host] if name == "docker" and docker_host else [])]

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        # docker's CLI without the buildx plugin builds only with the (classic) legacy builder
        env = {**os.environ, "DOCKER_BUILDKIT": "0"}
        return subprocess.run([*self.argv, *args], input=stdin, capture_output=True, text=True, env=env)

    def check(self, *args: str, stdin: str | None = None) -> None:
        done = self.run(*args, stdin=stdin)
        if done.returncode != 0:
            sys.exit(f"build.py: {' '.join([*self.argv, *args])} failed: {done.stderr.strip()}")

    def has_image(self, name: str) -> bool:
        return self.run("image", "inspect", name).returncode == 0


def recipe_hash(closures: dict[str, dict[str, str]]) -> str:
    digest = hashlib.sha256()
    for source in (Path(__file__), BUSYBOX, ARGOSAY):
        digest.update(source.read_bytes())
    digest.update(
        repr(sorted((kind, sorted(packages.items())) for kind, packages in closures.items())).encode()
    )
    return digest.hexdigest()[:16]


@contextlib.contextmanager
def exclusive() -> Iterator[None]:
    """One build at a time on this machine (two test sessions may start together)."""
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def build(engine: Engine) -> str:
    closures = {
        kind: package_closure(roots)
        for kind, roots in ROOTFS_PACKAGES.items()
        if kind not in OPTIONAL_ROOTFS or all(installed(root) for root in roots)
    }
    images = [image for image in IMAGES if image.rootfs in closures]
    stamp = f"localhost/triggerfish/stamp:{recipe_hash(closures)}"
    if engine.has_image(stamp):
        return f"images up to date ({stamp})"
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tf-images-") as scratch:
        tars = {}
        for kind, packages in closures.items():
            tars[kind] = Path(scratch) / f"{kind}.tar"
            write_rootfs(packages, tars[kind])
        bases: dict[str, str] = {}
        for image in images:
            first, *others = (qualified(name) for name in image.names)
            if image.rootfs in bases:  # the same files with another config: a build adds no layer
                dockerfile = "\n".join([f"FROM {bases[image.rootfs]}", *image.config])
                engine.check("build", "-q", "-t", first, "-", stdin=dockerfile)
            else:
                changes = [arg for line in (f"ENV PATH={PATH}", *image.config) for arg in ("--change", line)]
                engine.check("import", *changes, str(tars[image.rootfs]), first)
                bases[image.rootfs] = first
            for name in others:
                engine.check("tag", first, name)
    engine.check("tag", qualified(IMAGES[0].names[0]), stamp)
    names = sum(len(image.names) for image in images)
    return f"built {names} image names in {time.monotonic() - started:.1f}s ({stamp})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("engine", choices=("podman", "docker"))
    parser.add_argument("--docker-host", help="docker's -H (default: DOCKER_HOST or the CLI's default)")
    options = parser.parse_args()
    with exclusive():
        print(build(Engine(options.engine, options.docker_host)))


if __name__ == "__main__":
    main()
