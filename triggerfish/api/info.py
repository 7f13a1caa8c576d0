"""``/api/v1/version``, ``/api/v1/info`` and ``/api/v1/userinfo``: Argo Server's InfoService."""

from __future__ import annotations

import platform
import sys
from importlib import metadata
from typing import Any

from fastapi import APIRouter

from triggerfish.api.auth import AUTHENTICATED, CurrentPrincipal

router = APIRouter(prefix="/api/v1", tags=["info"], dependencies=AUTHENTICATED)


def version() -> str:
    try:
        return metadata.version("triggerfish")
    except metadata.PackageNotFoundError:
        return "0.0.0"


@router.get("/version")
async def get_version() -> dict[str, Any]:
    """Argo's ``Version`` (Triggerfish's own version; Python in place of Go)."""
    return {
        "version": f"v{version()}",
        "buildDate": "",
        "gitCommit": "",
        "gitTag": f"v{version()}",
        "gitTreeState": "",
        "goVersion": f"python{platform.python_version()}",
        "compiler": sys.implementation.name,
        "platform": f"{sys.platform}/{platform.machine()}",
    }


@router.get("/info")
async def get_info() -> dict[str, Any]:
    """Argo's ``InfoResponse``: no UI links or columns are configured."""
    return {"managedNamespace": "", "links": [], "modals": {}, "navColor": "", "columns": []}


@router.get("/userinfo")
async def get_user_info(principal: CurrentPrincipal) -> dict[str, Any]:
    """Argo's ``GetUserInfoResponse`` for the caller (empty fields omitted)."""
    info = {
        "subject": principal.subject,
        "issuer": principal.issuer,
        "email": principal.email,
        "groups": list(principal.groups),
        "serviceAccountName": principal.service_account,
    }
    return {k: v for k, v in info.items() if v}
