"""The drift kind's plugin module: registers the kind like any plugin's."""

from __future__ import annotations

from collections.abc import Callable

from pytest_llmops.core.hookspecs import hookimpl
from pytest_llmops.suites.drift import KIND


@hookimpl
def llmops_register_suite_kinds(register: Callable[..., None]) -> None:
    register(KIND)
