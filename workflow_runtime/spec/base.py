"""Shared machinery for the Argo spec models: camelCase aliases, strict fields, Argo's scalar types.

Every model forbids unknown fields so that a typo or a field Triggerfish does not implement is
reported by name instead of being silently ignored (see :mod:`workflow_runtime.spec.errors`).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError


class ArgoModel(BaseModel):
    """Base of all manifest models: field names mirror Argo's JSON (camelCase) exactly."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=False,
        validate_default=False,
        ser_json_timedelta="float",
    )

    def to_argo(self) -> dict[str, Any]:
        """The model as Argo's JSON: aliases, no unset/None fields."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


def go_string(value: Any) -> Any:
    """Argo's ``AnyString``: YAML numbers and booleans become the strings Go would print."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return value


AnyString = Annotated[str, BeforeValidator(go_string)]
"""A string field that also accepts YAML scalars (Argo's ``AnyString``)."""

IntOrString = Annotated[str, BeforeValidator(go_string)]
"""Kubernetes ``IntOrString`` kept as its string form; numeric meaning is parsed where it is used."""


def _reject_unsupported(value: Any) -> Any:
    raise PydanticCustomError("not_supported", "not supported by Triggerfish yet")


NotSupported = Annotated[Any, AfterValidator(_reject_unsupported)]
"""An Argo field Triggerfish does not implement yet: accepted by the schema, refused by name."""

Passive = Any
"""An Argo field with no effect on a local run (scheduling, pod metadata, metrics…): kept, not acted on."""
