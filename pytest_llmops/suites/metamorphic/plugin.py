"""The metamorphic kind's plugin module: its hookspecs, the kind, and the built-in perturbations
and relations, registered through the llmops hooks like any plugin's.

Listed in :mod:`pytest_llmops.suites.builtins`, so it is registered before any other plugin:
pluggy calls it last, and a plugin that registers a perturbation or relation under a built-in
name replaces the built-in.
"""

from __future__ import annotations

from typing import Any, Callable

from pytest_llmops.core.hookspecs import hookimpl
import pytest_llmops.suites.metamorphic.hookspecs as hookspecs
from pytest_llmops.suites.metamorphic.core import all_perturbations, all_relations
from pytest_llmops.suites.metamorphic.kind import KIND


@hookimpl
def llmops_register_perturbations(register: Callable[..., None]) -> None:
    """The built-in perturbations (a plugin's of the same name is registered first and wins)."""
    for perturbation in all_perturbations():
        register(perturbation)


@hookimpl
def llmops_register_relations(register: Callable[..., None]) -> None:
    """The built-in relations (a plugin's of the same name is registered first and wins)."""
    for relation in all_relations():
        register(relation)


@hookimpl
def llmops_addhooks(pluginmanager: Any) -> None:
    """The metamorphic kind's own extension points (its hookspecs module)."""
    pluginmanager.add_hookspecs(hookspecs)


@hookimpl
def llmops_register_suite_kinds(register: Callable[..., None]) -> None:
    """The ``metamorphic`` suite kind."""
    register(KIND)
