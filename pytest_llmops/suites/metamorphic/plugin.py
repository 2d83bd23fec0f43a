"""The metamorphic kind's plugin module: its hookspecs, the kind, and the built-in perturbations
and relations, registered through the llmops hooks like any plugin's.

Listed in :mod:`pytest_llmops.suites.builtins`, so it is registered before any other plugin:
pluggy calls it last, and a plugin that registers a perturbation or relation under a built-in
name replaces the built-in.
"""

from __future__ import annotations

from typing import Any, Callable

from pytest_llmops.core.hookspecs import hookimpl
from pytest_llmops.suites.metamorphic import hookspecs
from pytest_llmops.suites.metamorphic.model_relations import BUILTIN_MODEL_RELATIONS
from pytest_llmops.suites.metamorphic.output_relations import BUILTIN_OUTPUT_RELATIONS
from pytest_llmops.suites.metamorphic.perturbations import BUILTIN_PERTURBATIONS


def all_perturbations() -> list[Any]:
    """The built-in perturbations."""
    return list(BUILTIN_PERTURBATIONS)


def all_relations() -> list[Any]:
    """The built-in output and model relations."""
    return [*BUILTIN_OUTPUT_RELATIONS, *BUILTIN_MODEL_RELATIONS]


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
    # reason: kind.py imports this module (through core.py); importing it back at the top is a cycle
    from pytest_llmops.suites.metamorphic.kind import KIND

    register(KIND)
