"""Property-based tests of the whole API with schemathesis: whatever the request, schema-valid
(positive) or not (negative), the hub never answers with a 5xx.

The operations come from the app's OpenAPI document, built in-process so that each operation is
its own test (and checked to be the ``/openapi.json`` the running hub serves); the requests go to
the running hub. The watch stream is left out: it never ends by itself.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

from tests.api.conftest import ok, requires_isolation
from tests.support.processes import HubServer
from triggerfish.api.app import create_app
from triggerfish.hub import Hub

pytestmark = requires_isolation

EXAMPLES = int(os.environ.get("TRIGGERFISH_SCHEMATHESIS_EXAMPLES", "10"))
"""Per operation and mode; the whole module stays well under a minute."""


async def _no_hub() -> Hub:
    raise AssertionError("the OpenAPI document is built without a hub")


OPENAPI = create_app(_no_hub).openapi()
OPERATIONS = [
    operation
    for result in schemathesis.openapi.from_dict(OPENAPI).get_all_operations()
    if not (operation := result.ok()).path.startswith("/api/v1/workflow-events/")
]


def _types(schema: dict[str, Any]) -> set[str]:
    if "anyOf" in schema:
        return {t for option in schema["anyOf"] for t in _types(option)}
    return {str(schema.get("type"))}


def can_be_invalid(operation: Any) -> bool:
    """Whether a schema-invalid request exists: a body with a schema (not "any JSON"), or a
    parameter that is not a plain string."""
    spec = OPENAPI["paths"][operation.path][operation.method.lower()]
    typed = (_types(p.get("schema") or {}) - {"string", "null"} for p in spec.get("parameters") or [])
    body = ((spec.get("requestBody") or {}).get("content") or {}).get("application/json", {}).get(
        "schema"
    ) or {}
    return bool({"$ref", "type", "anyOf"} & body.keys()) or any(typed)


CASES = [(operation, GenerationMode.POSITIVE) for operation in OPERATIONS] + [
    (operation, GenerationMode.NEGATIVE) for operation in OPERATIONS if can_be_invalid(operation)
]


def test_the_hub_serves_this_openapi_document(hub: HubServer) -> None:
    assert ok(hub.client.get("/openapi.json")) == OPENAPI


@pytest.mark.parametrize(("operation", "mode"), CASES, ids=[f"{o.label} {m.value}" for o, m in CASES])
def test_no_request_makes_the_hub_fail(hub: HubServer, operation: Any, mode: GenerationMode) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        case.call_and_validate(base_url=hub.url, checks=[not_a_server_error], timeout=15)

    check()
