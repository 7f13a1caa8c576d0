"""The CLI's connection to a hub: ``--server``/``TRIGGERFISH_SERVER``, ``--token``/``TRIGGERFISH_TOKEN``
(sent as ``Authorization: Bearer``), Argo-shaped errors turned into messages and exit codes (2 for
a request the hub refused as invalid, 1 otherwise), and Server-Sent Event streams."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Annotated, Any, NoReturn

import httpx
import typer
import yaml

DEFAULT_SERVER = "http://127.0.0.1:2746"
EXIT_INVALID = 2

Server = Annotated[
    str | None,
    typer.Option("--server", envvar="TRIGGERFISH_SERVER", help=f"Hub URL [default: {DEFAULT_SERVER}]"),
]
LocalOrServer = Annotated[
    str | None,
    typer.Option(
        "--server",
        envvar="TRIGGERFISH_SERVER",
        help="Ask this hub; without it the local data directory is read",
    ),
]
Token = Annotated[
    str | None,
    typer.Option("--token", envvar="TRIGGERFISH_TOKEN", help="Bearer token for the hub", show_default=False),
]
Namespace = Annotated[str, typer.Option("-n", "--namespace")]
Output = Annotated[str | None, typer.Option("-o", "--output", help="json|yaml|wide|name")]


def fail(message: str, code: int = 1) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(code)


def emit(value: Any, output: str | None) -> bool:
    """Print ``value`` as JSON or YAML if that is the output asked for; False otherwise."""
    if output == "json":
        print(json.dumps(value, indent=2, default=str))
    elif output == "yaml":
        print(yaml.safe_dump(value, sort_keys=False), end="")
    else:
        return False
    return True


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text or response.reason_phrase
    if not isinstance(body, dict):
        return response.text
    message = str(body.get("message", response.text))
    for detail in body.get("details") or []:
        line = f"{detail.get('field')}: {detail.get('reason')}"
        if line not in message:
            message += f"\n  {line}"
    return message


class HubClient:
    def __init__(self, server: str | None, token: str | None = None) -> None:
        self.server = (server or DEFAULT_SERVER).rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def _check(self, response: httpx.Response) -> None:
        if response.status_code >= 400:
            fail(_error_message(response), EXIT_INVALID if response.status_code in (400, 422) else 1)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request; its JSON answer, or exit with the hub's message."""
        try:
            response = httpx.request(method, self.server + path, headers=self.headers, timeout=60, **kwargs)
        except httpx.HTTPError as exc:
            fail(f"cannot reach the hub at {self.server}: {exc}")
        self._check(response)
        return response.json()

    def stream(self, path: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """The ``result`` of each Server-Sent Event until the hub ends the stream."""
        headers = {**self.headers, "Accept": "text/event-stream"}
        timeout = httpx.Timeout(10.0, read=None)
        try:
            with httpx.stream(
                "GET", self.server + path, params=params, headers=headers, timeout=timeout
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    self._check(response)
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    message = json.loads(line[5:])
                    if "error" in message:
                        fail(str(message["error"].get("message", message["error"])))
                    yield message["result"]
        except httpx.HTTPError as exc:
            fail(f"lost the stream from the hub at {self.server}: {exc}")
