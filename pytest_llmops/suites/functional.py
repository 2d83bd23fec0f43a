"""The functional kind's plugin module: written-out cases judged by their checks."""

from __future__ import annotations

from typing import Callable

from pytest_llmops.core.hookspecs import hookimpl
from pytest_llmops.suites.kinds import FUNCTIONAL


@hookimpl
def llmops_register_suite_kinds(register: Callable[..., None]) -> None:
    register(FUNCTIONAL)
