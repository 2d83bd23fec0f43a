"""The built-in YAML checks, registered through the same hook as a plugin's."""

from __future__ import annotations

from typing import Callable

from pytest_llmops.core.hookspecs import hookimpl
from pytest_llmops.checks.builtin import BUILTIN_CHECKS
from pytest_llmops.checks.grounding import GROUNDING_CHECKS
from pytest_llmops.checks.quality_checks import QUALITY_CHECKS


@hookimpl
def llmops_register_checks(register: Callable[..., None]) -> None:
    for check in [*BUILTIN_CHECKS, *QUALITY_CHECKS, *GROUNDING_CHECKS]:
        register(check)
