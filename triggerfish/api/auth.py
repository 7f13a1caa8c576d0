"""Who may call the API: bearer tokens from the settings, each scoped to namespaces and to read or
write access.

Every router depends on :func:`current_principal`, which authenticates the caller (401 when the
token is missing or unknown) and authorizes what the route's path says: a ``{namespace}`` path
parameter needs that namespace, any method but GET/HEAD (and lint) needs write access, and
cluster-scoped templates need a token for all namespaces to change them. Endpoints whose namespace
is not in the path (Triggerfish's manifests and events) call :meth:`Principal.require` themselves.

With no tokens configured the API is open, as Argo Server's ``--auth-mode=server`` is: the
embedded default listens on loopback. Webhook event sources never use these tokens; each checks
its own secret (GitHub's HMAC, an S3 notification token…).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from triggerfish.api.errors import ApiError
from triggerfish.config import AuthSettings

ALL_NAMESPACES = "*"
CLUSTER_PATHS = ("/api/v1/cluster-workflow-templates",)
READ_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling; the first fields are those of Argo's ``GetUserInfoResponse``."""

    subject: str
    issuer: str = ""
    email: str = ""
    groups: tuple[str, ...] = field(default=())
    service_account: str = ""
    namespaces: frozenset[str] = frozenset({ALL_NAMESPACES})
    write: bool = True

    @property
    def all_namespaces(self) -> bool:
        return ALL_NAMESPACES in self.namespaces

    def reaches(self, namespace: str) -> bool:
        return self.all_namespaces or namespace in self.namespaces

    def require(self, namespace: str | None, *, write: bool) -> None:
        """Raise 403 unless this caller may read (or change) ``namespace``; ``None`` means a
        cluster-scoped resource, which everyone may read and only all-namespace tokens change."""
        if write and not self.write:
            raise ApiError(403, f"token {self.subject!r} is read-only")
        if namespace is None:
            if write and not self.all_namespaces:
                raise ApiError(403, f"token {self.subject!r} cannot change cluster-scoped resources")
            return
        if not self.reaches(namespace):
            raise ApiError(403, f"token {self.subject!r} has no access to namespace {namespace!r}")

    def visible(self, namespaces: Iterable[str]) -> list[str]:
        return [ns for ns in namespaces if self.reaches(ns)]


ANONYMOUS = Principal(subject="anonymous")
"""The caller when no tokens are configured: everything is allowed."""


class TokenTable:
    """Configured tokens by their SHA-256, so lookups never compare secrets byte by byte."""

    def __init__(self, settings: AuthSettings) -> None:
        self._by_digest: dict[str, Principal] = {}
        for grant in settings.tokens:
            digest = grant.token_sha256 or _digest(grant.token or "")
            self._by_digest[digest.lower()] = Principal(
                subject=grant.name, namespaces=frozenset(grant.namespaces), write=grant.access == "write"
            )

    @property
    def enabled(self) -> bool:
        return bool(self._by_digest)

    def authenticate(self, authorization: str | None) -> Principal:
        if not self.enabled:
            return ANONYMOUS
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "missing bearer token: send the header 'Authorization: Bearer <token>'")
        principal = self._by_digest.get(_digest(token.strip()))
        if principal is None:
            raise ApiError(401, "bearer token not recognised")
        return principal


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_write(request: Request) -> bool:
    """Whether the request changes something (lint only validates, so it counts as a read)."""
    return request.method.upper() not in READ_METHODS and not request.url.path.endswith("/lint")


async def current_principal(request: Request) -> Principal:
    """Authenticate the caller, then check the namespace the route's path names."""
    table: TokenTable = request.app.state.tokens
    principal = table.authenticate(request.headers.get("authorization"))
    namespace = request.path_params.get("namespace")
    if namespace is not None:
        principal.require(namespace, write=is_write(request))
    elif request.url.path.startswith(CLUSTER_PATHS):
        principal.require(None, write=is_write(request))
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
AUTHENTICATED = [Depends(current_principal)]
"""``dependencies=`` of every API router."""
