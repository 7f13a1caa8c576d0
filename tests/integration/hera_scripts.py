"""Hera script functions for ``test_hera.py``. Hera reads their annotations at run time, so this
module must not use ``from __future__ import annotations`` (it would turn them into strings)."""

from hera.workflows import script


@script(image="python:3.11")
def add(a: int, b: int) -> None:
    print(a + b)
