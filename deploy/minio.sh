#!/usr/bin/env bash
# Build the MinIO server (S3 API with bucket notifications) from the Go module proxy, once.
#   deploy/minio.sh [CACHE_DIR]     prints the path of the minio binary
# MinIO ships no Debian package and no registry binary here, so the test suite builds it with Go:
# `go install github.com/minio/minio@<pinned version>` into
# ${TRIGGERFISH_MINIO_CACHE:-~/.cache/triggerfish/minio}/<version>/minio, outside git.
# The proxy serves MinIO only by pseudo-version (its RELEASE.* tags are not semver); this one is the
# last commit of the archived repository, whose go.mod has no replace directives.
# Go 1.24+ is needed and Debian 12 has 1.19: without a recent `go` on PATH, the Go toolchain module
# (golang.org/toolchain, what GOTOOLCHAIN downloads) is fetched from the same proxy into the cache.
# Concurrent runs (`make test` starts one in the background, the test fixture another) share one
# build through a lock: the second waits for the first and reuses its binary.
# Measured on this 2-core VM: about 6 minutes cold (modules and build cache empty), instant when cached.
set -euo pipefail
MINIO_VERSION="${MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}"
GO_VERSION="${GO_VERSION:-1.24.8}"
cache="${1:-${TRIGGERFISH_MINIO_CACHE:-$HOME/.cache/triggerfish/minio}}"
dir="$cache/$MINIO_VERSION"
if [ -x "$dir/minio" ]; then
    echo "$dir/minio"
    exit 0
fi
mkdir -p "$dir"
exec 9>"$dir.lock"
flock 9
if [ -x "$dir/minio" ]; then  # built by the run that held the lock
    echo "$dir/minio"
    exit 0
fi

go_is_recent() {
    local version
    version="$("$1" env GOVERSION 2>/dev/null)" || return 1
    version="${version#go}"
    [ "$(printf '%s\n' 1.24 "$version" | sort -V | head -n1)" = 1.24 ]
}
go_bin="$(command -v go || true)"
if [ -z "$go_bin" ] || ! go_is_recent "$go_bin"; then
    toolchain="$cache/go$GO_VERSION"
    if [ ! -x "$toolchain/bin/go" ]; then
        echo "minio: fetching the Go $GO_VERSION toolchain from the Go module proxy" >&2
        python3 - "$GO_VERSION" "$toolchain" <<'EOF'
import io, os, sys, urllib.request, zipfile
version, target = sys.argv[1], sys.argv[2]
module = f"v0.0.1-go{version}.linux-amd64"
url = f"https://proxy.golang.org/golang.org/toolchain/@v/{module}.zip"
prefix = f"golang.org/toolchain@{module}/"
data = urllib.request.urlopen(url, timeout=300).read()
staging = target + ".tmp"
with zipfile.ZipFile(io.BytesIO(data)) as archive:
    for info in archive.infolist():
        if info.is_dir() or not info.filename.startswith(prefix):
            continue
        path = os.path.join(staging, info.filename[len(prefix):])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as out:
            out.write(archive.read(info))
        os.chmod(path, (info.external_attr >> 16) & 0o777 or 0o644)
os.rename(staging, target)
EOF
    fi
    go_bin="$toolchain/bin/go"
fi
staging="$(mktemp -d "$dir/build.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
# CGO off and no debug info: a static binary that links faster; the toolchain above, never a download.
GOTOOLCHAIN=local CGO_ENABLED=0 GOBIN="$staging" \
    "$go_bin" install -trimpath -ldflags "-s -w" "github.com/minio/minio@$MINIO_VERSION" >&2
mv "$staging/minio" "$dir/minio"
echo "$dir/minio"
