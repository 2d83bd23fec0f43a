"""The built-in perturbations and relations, registered through the llmops hooks like any plugin's.

``pytest_llmops.core.registry.make_plugin_manager`` registers this module. Its hooks run first
(``tryfirst``), so a plugin that registers a perturbation or relation under a built-in name
replaces the built-in.
"""

from __future__ import annotations

from typing import Any, Callable

from pytest_llmops.core.hookspecs import hookimpl


def all_perturbations() -> list[Any]:
    from pytest_llmops.suites.metamorphic.perturbations import BUILTIN_PERTURBATIONS

    return list(BUILTIN_PERTURBATIONS)


def all_relations() -> list[Any]:
    from pytest_llmops.suites.metamorphic.model_relations import BUILTIN_MODEL_RELATIONS
    from pytest_llmops.suites.metamorphic.relations import BUILTIN_OUTPUT_RELATIONS

    return [*BUILTIN_OUTPUT_RELATIONS, *BUILTIN_MODEL_RELATIONS]


@hookimpl(tryfirst=True)
def llmops_register_perturbations(register: Callable[..., None]) -> None:
    for perturbation in all_perturbations():
        register(perturbation)


@hookimpl(tryfirst=True)
def llmops_register_relations(register: Callable[..., None]) -> None:
    for relation in all_relations():
        register(relation)
