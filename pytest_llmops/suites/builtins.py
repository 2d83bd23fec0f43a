"""The one list of built-in plugin modules, and the registry they make outside pytest.

Like simonw/llm's list of default plugins: each module implements the ``llmops`` hooks the
way a third-party plugin would (providers, checks, each suite kind with its own hookspecs and
built-ins). They are registered first, so a plugin's object of the same name replaces a
built-in in every registry table.
"""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any, Iterable

from pytest_llmops.checks import plugin as checks_plugin
from pytest_llmops.core.registry import Registry, build_registry, make_plugin_manager
from pytest_llmops.providers import builtin as providers_plugin
from pytest_llmops.suites import functional
from pytest_llmops.suites.adversarial import plugin as adversarial_plugin
from pytest_llmops.suites.garak import plugin as garak_plugin
from pytest_llmops.suites.latency import plugin as latency_plugin
from pytest_llmops.suites.metamorphic import plugin as metamorphic_plugin
from pytest_llmops.suites.regression import plugin as regression_plugin

BUILTIN_PLUGINS: tuple[ModuleType, ...] = (
    providers_plugin, checks_plugin, functional, adversarial_plugin, metamorphic_plugin, regression_plugin,
    garak_plugin, latency_plugin,
)


def registry_with(plugins: Iterable[Any] = ()) -> Registry:
    """The built-ins, ``llmops`` entry points and ``plugins`` (pytest plugins, conftests)."""
    return build_registry(make_plugin_manager(BUILTIN_PLUGINS, plugins))


@functools.lru_cache(maxsize=1)
def default_registry() -> Registry:
    """The registry outside pytest (CLI, scripts): built-ins and entry points only."""
    return registry_with()
