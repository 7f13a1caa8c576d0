"""Parsing of command-line values shared by several commands."""

from __future__ import annotations


def parse_parameters(values: list[str]) -> dict[str, str]:
    """``-p name=value`` pairs, as ``argo submit`` accepts them."""
    out: dict[str, str] = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name:
            raise ValueError(f"expected parameter of the form: NAME=VALUE. Received: {value}")
        out[name] = rest
    return out
