"""The adversarial kind's plugin module: its hookspecs, the kind, and the built-in attacks,
strategies and detectors, registered through the same hooks as plugins.

Listed in :mod:`pytest_llmops.suites.builtins`; a third-party package does the same from its
own module (an ``llmops`` entry point, a pytest plugin or a ``conftest.py``), see
``docs/adversarial.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pytest_llmops.core.hookspecs import hookimpl
import pytest_llmops.suites.adversarial.hookspecs as hookspecs
from pytest_llmops.suites.adversarial import KIND
from pytest_llmops.suites.adversarial.attacks import BUILTIN_ATTACKS
from pytest_llmops.suites.adversarial.detectors import BUILTIN_DETECTORS
from pytest_llmops.suites.adversarial.strategies import BUILTIN_STRATEGIES


@hookimpl
def llmops_register_attacks(register: Callable[..., None]) -> None:
    for attack in BUILTIN_ATTACKS:
        register(attack)


@hookimpl
def llmops_register_strategies(register: Callable[..., None]) -> None:
    for strategy in BUILTIN_STRATEGIES:
        register(strategy)


@hookimpl
def llmops_register_detectors(register: Callable[..., None]) -> None:
    for detector in BUILTIN_DETECTORS:
        register(detector)


@hookimpl
def llmops_addhooks(pluginmanager: Any) -> None:
    """The adversarial kind's own extension points (its hookspecs module)."""
    pluginmanager.add_hookspecs(hookspecs)


@hookimpl
def llmops_register_suite_kinds(register: Callable[..., None]) -> None:
    register(KIND)
