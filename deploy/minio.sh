#!/usr/bin/env bash
# Build the MinIO server (S3 API with bucket notifications) from the Go module proxy, once.
#   deploy/minio.sh [CACHE_DIR]     prints the path of the minio binary
# MinIO ships no Debian package and no registry binary here, so the test suite builds it with the
# machine's Go toolchain: `go install github.com/minio/minio@<pinned version>` into
# ${TRIGGERFISH_MINIO_CACHE:-~/.cache/triggerfish/minio}/<version>/minio, outside git.
# The proxy serves MinIO only by pseudo-version (its RELEASE.* tags are not semver); this one is the
# last commit of the archived repository, whose go.mod has no replace directives.
# Measured on this 2-core VM: about 6 minutes cold (modules and build cache empty), instant when cached.
set -euo pipefail
MINIO_VERSION="${MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}"
cache="${1:-${TRIGGERFISH_MINIO_CACHE:-$HOME/.cache/triggerfish/minio}}"
dir="$cache/$MINIO_VERSION"
if [ -x "$dir/minio" ]; then
    echo "$dir/minio"
    exit 0
fi
command -v go >/dev/null || { echo "minio: the Go toolchain (go 1.24+) is missing" >&2; exit 1; }
mkdir -p "$dir"
staging="$(mktemp -d "$dir/build.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
# CGO off and no debug info: a static binary that links faster; the local toolchain, never a download.
GOTOOLCHAIN=local CGO_ENABLED=0 GOBIN="$staging" \
    go install -trimpath -ldflags "-s -w" "github.com/minio/minio@$MINIO_VERSION" >&2
mv "$staging/minio" "$dir/minio"
echo "$dir/minio"
