"""``http`` artifacts: GET an input from a URL, PUT an output to one (Argo's HTTP artifact driver)."""

from __future__ import annotations

from pathlib import Path

import httpx

from workflow_runtime.artifacts.repository import ArtifactError, ArtifactNotFound
from workflow_runtime.spec.common import HTTPArtifact

TIMEOUT = httpx.Timeout(60.0, connect=10.0)


def _headers(location: HTTPArtifact) -> dict[str, str]:
    return {header.name: header.value for header in location.headers or []}


def download(location: HTTPArtifact, dest: Path) -> None:
    """Stream the URL's body to ``dest``; 404 is "not found" (an optional input is then skipped)."""
    headers = _headers(location)
    try:
        with (
            httpx.stream(
                "GET", location.url, headers=headers, timeout=TIMEOUT, follow_redirects=True
            ) as response,
            dest.open("wb") as out,
        ):
            reason = (
                f"loading file from http failed with reason: {response.status_code} {response.reason_phrase}"
            )
            if response.status_code == 404:
                raise ArtifactNotFound(reason)
            if not response.is_success:
                raise ArtifactError(reason)
            for chunk in response.iter_bytes():
                out.write(chunk)
    except httpx.HTTPError as error:
        raise ArtifactError(f"failed to download {location.url}: {error}") from None


def upload(location: HTTPArtifact, source: Path) -> None:
    """PUT a file to the URL (a directory must be archived first)."""
    if source.is_dir():
        raise ArtifactError(f"cannot PUT the directory {source.name} to {location.url}: archive it (tar)")
    try:
        with source.open("rb") as body:
            response = httpx.put(location.url, content=body, headers=_headers(location), timeout=TIMEOUT)
    except httpx.HTTPError as error:
        raise ArtifactError(f"failed to upload to {location.url}: {error}") from None
    if not response.is_success:
        raise ArtifactError(
            f"saving file to http failed with reason: {response.status_code} {response.reason_phrase}"
        )
